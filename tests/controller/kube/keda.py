"""KEDA's ScaledObject CRD (the parts the API server needs; no KEDA operator) and a podinfo ScaledObject."""

from __future__ import annotations

import contextlib
from typing import Any

from controller.errors import ConflictError
from controller.kube.api import KubeApi
from tests.controller.kube.support import CRD_PATH, eventually

SCALED_OBJECT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "scaledobjects.keda.sh"},
    "spec": {
        "group": "keda.sh",
        "names": {"kind": "ScaledObject", "listKind": "ScaledObjectList", "plural": "scaledobjects",
                  "singular": "scaledobject", "shortNames": ["so"]},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}  # fmt: skip


async def install_keda_crd(api: KubeApi) -> None:
    """Idempotent: a real control plane keeps CRDs between tests."""
    with contextlib.suppress(ConflictError):
        await api.request("POST", CRD_PATH, body=SCALED_OBJECT_CRD)
    await eventually(
        lambda: api.request("GET", "/apis/keda.sh/v1alpha1/scaledobjects"), what="keda.sh served"
    )


def podinfo_scaled_object(name: str = "podinfo", min_replicas: int = 3) -> dict[str, Any]:
    """Flagger's docs example: a Prometheus trigger whose query names the target (and its -canary)."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": "test", "labels": {"app": name}},
        "spec": {
            "scaleTargetRef": {"name": name},
            "pollingInterval": 10,
            "cooldownPeriod": 20,
            "minReplicaCount": min_replicas,
            "maxReplicaCount": 6,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {
                        "serverAddress": "http://prometheus.flagger-system:9090",
                        "metricName": "http_requests_total",
                        "query": f'sum(rate(http_requests_total{{app="{name}-canary"}}[2m]))'
                        f' + sum(rate(http_requests_total{{app="{name}"}}[2m]))',
                        "threshold": "100",
                    },
                }
            ],
        },
    }
