"""Tutorial-shaped objects for the `test` namespace."""

from __future__ import annotations

import base64
from typing import Any

from tests.data import tutorial


def podinfo(image: str = "stefanprodan/podinfo:3.1.0", replicas: int | None = 1) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "minReadySeconds": 3,
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": 60,
        "strategy": {"rollingUpdate": {"maxUnavailable": 0}, "type": "RollingUpdate"},
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {
            "metadata": {"labels": {"app": "podinfo"}, "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {
                "containers": [
                    {
                        "name": "podinfod",
                        "image": image,
                        "ports": [
                            {"name": "http", "containerPort": 9898, "protocol": "TCP"},
                            {"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"},
                            {"name": "grpc", "containerPort": 9999, "protocol": "TCP"},
                        ],
                        "env": [
                            {
                                "name": "PODINFO_UI_COLOR",
                                "valueFrom": {"configMapKeyRef": {"name": "podinfo-config", "key": "color"}},
                            }
                        ],
                        "envFrom": [{"secretRef": {"name": "podinfo-secret"}}],
                    }
                ]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"}},
        "spec": spec,
    }


def podinfo_config(color: str = "blue") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podinfo-config", "namespace": "test"},
        "data": {"color": color},
    }


def podinfo_secret(token: str = "s3cr3t") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "podinfo-secret", "namespace": "test"},
        "type": "Opaque",
        "data": {"TOKEN": base64.b64encode(token.encode()).decode()},
    }


def podinfo_hpa(min_replicas: int = 2, max_replicas: int = 4) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 99}},
                }
            ],
        },
    }


def tutorial_canary(
    *,
    interval: str = "30s",
    loadtester: str = "http://flagger-loadtester.test/",
    name: str = "podinfo",
    target: str = "podinfo",
    extra_metrics: list[dict[str, Any]] | None = None,
    webhooks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The tutorial's Canary (autoscalerRef written as autoscaling/v2beta2, as published), adjusted."""
    body = tutorial.canary()
    body["metadata"]["name"] = name
    spec = body["spec"]
    spec["targetRef"]["name"] = target
    spec["autoscalerRef"]["name"] = target
    analysis = spec["analysis"]
    analysis["interval"] = interval
    analysis["metrics"].extend(extra_metrics or [])
    if webhooks is not None:
        analysis["webhooks"] = webhooks
    else:
        for hook in analysis["webhooks"]:
            hook["url"] = loadtester
    return body
