"""Flagger's e2e DaemonSet (test/workloads/daemonset.yaml, shortened): `podinfo-ds`, selector `name`."""

from __future__ import annotations

from typing import Any


def podinfo_ds(image: str = "ghcr.io/stefanprodan/podinfo:6.0.0", name: str = "podinfo-ds") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "test", "labels": {"app": name}},
        "spec": {
            "minReadySeconds": 3,
            "revisionHistoryLimit": 5,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": {"name": name}},
            "template": {
                "metadata": {"labels": {"name": name}, "annotations": {"prometheus.io/scrape": "true"}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": image,
                            "ports": [
                                {"name": "http", "containerPort": 9898, "protocol": "TCP"},
                                {"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"},
                            ],
                            "envFrom": [{"configMapRef": {"name": "podinfo-ds-config"}}],
                        }
                    ],
                },
            },
        },
    }


def podinfo_ds_config(color: str = "blue") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podinfo-ds-config", "namespace": "test"},
        "data": {"color": color},
    }


def podinfo_ds_canary(**spec: Any) -> dict[str, Any]:
    """Flagger's test/kubernetes/test-daemonset.sh Canary (webhooks left to the caller)."""
    body: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo-ds", "namespace": "test"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "podinfo-ds"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 80, "targetPort": 9898, "name": "podinfo-ds", "portDiscovery": True},
            "analysis": {
                "interval": "15s",
                "threshold": 10,
                "iterations": 5,
                "metrics": [
                    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
                    {"name": "request-duration", "interval": "30s", "thresholdRange": {"max": 500}},
                ],
                "webhooks": [],
            },
        },
    }
    body["spec"].update(spec)
    return body
