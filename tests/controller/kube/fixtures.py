"""Objects shaped like Flagger's scheduler fixture (podinfo in `default`), as plain API JSON."""

from __future__ import annotations

from typing import Any

from controller.kube.objects import CanaryOwner

CANARY = CanaryOwner(name="podinfo", namespace="default", uid="0b7e5c55-1111-4aaa-8bbb-000000000001")


def podinfo_deployment(image: str = "stefanprodan/podinfo:3.1.0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": "default",
            "labels": {
                "app": "podinfo",
                "app.kubernetes.io/part-of": "shop",
                "kustomize.toolkit.fluxcd.io/name": "x",
            },
            "annotations": {
                "kustomize.toolkit.fluxcd.io/checksum": "abc",
                "app.kubernetes.io/owner": "team-a",
                "deployment.kubernetes.io/revision": "3",
            },
        },
        "spec": {
            "replicas": 0,
            "progressDeadlineSeconds": 60,
            "minReadySeconds": 3,
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": {"app": "podinfo", "tier": "web"}},
            "template": {
                "metadata": {
                    "labels": {"app": "podinfo", "tier": "web", "helm.toolkit.fluxcd.io/name": "y"},
                    "annotations": {"prometheus.io/scrape": "true", "flagger-id": "old"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "podinfo",
                            "image": image,
                            "ports": [
                                {"name": "http", "containerPort": 9898, "protocol": "TCP"},
                                {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"},
                                {"containerPort": 8888, "protocol": "TCP"},
                            ],
                            "env": [
                                {
                                    "name": "PODINFO_UI_COLOR",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "podinfo-config-env", "key": "color"}
                                    },
                                },
                                {
                                    "name": "API_KEY",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": "podinfo-secret-env", "key": "apiKey"}
                                    },
                                },
                                {
                                    "name": "OPTIONAL",
                                    "valueFrom": {
                                        "configMapKeyRef": {
                                            "name": "podinfo-optional",
                                            "key": "x",
                                            "optional": True,
                                        }
                                    },
                                },
                            ],
                            "envFrom": [
                                {"configMapRef": {"name": "podinfo-config-all-env"}},
                                {"secretRef": {"name": "podinfo-secret-all-env"}},
                            ],
                        },
                        {
                            "name": "istio-proxy",
                            "image": "proxy",
                            "ports": [{"name": "admin", "containerPort": 15000}],
                        },
                    ],
                    "initContainers": [
                        {
                            "name": "init",
                            "image": "busybox",
                            "envFrom": [{"configMapRef": {"name": "podinfo-init-env"}}],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "podinfo-config-vol"}},
                        {"name": "secret", "secret": {"secretName": "podinfo-secret-vol"}},
                        {
                            "name": "projected",
                            "projected": {
                                "sources": [
                                    {"configMap": {"name": "podinfo-config-projected"}},
                                    {"secret": {"name": "podinfo-secret-projected"}},
                                ]
                            },
                        },
                    ],
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {
                                            "matchLabels": {"app": "podinfo", "other": "podinfo"},
                                            "matchExpressions": [
                                                {
                                                    "key": "app",
                                                    "operator": "In",
                                                    "values": ["x", "podinfo", "podinfo"],
                                                }
                                            ],
                                        },
                                    },
                                }
                            ],
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"topologyKey": "zone", "labelSelector": {"matchLabels": {"name": "podinfo"}}}
                            ],
                        },
                        "podAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "podinfo"}}}
                            ]
                        },
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "zone",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": {"app": "podinfo"}},
                        }
                    ],
                },
            },
        },
    }
