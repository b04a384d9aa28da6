"""Keptn's metrics API in the sandbox: its two CRDs and a stand-in for Keptn's Analysis controller."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from controller.kube.api import KubeApi
from tests.controller.kube.support import eventually

GROUP_PATH = "/apis/metrics.keptn.sh/v1beta1"


def _crd(kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.metrics.keptn.sh"},
        "spec": {
            "group": "metrics.keptn.sh",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


async def install_keptn_crds(api: KubeApi) -> None:
    for kind, plural in (("KeptnMetric", "keptnmetrics"), ("Analysis", "analyses")):
        await api.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=_crd(kind, plural)
        )
        await eventually(lambda p=plural: api.request("GET", f"{GROUP_PATH}/{p}"))  # type: ignore[misc]


async def set_keptn_metric(api: KubeApi, namespace: str, name: str, value: str | None) -> None:
    """Create or update a KeptnMetric whose status carries ``value``, as Keptn's metrics operator does."""
    body: dict[str, Any] = {
        "apiVersion": "metrics.keptn.sh/v1beta1",
        "kind": "KeptnMetric",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": {"name": "my-provider"},
            "query": "sum(rate(x[1m]))",
            "fetchIntervalSeconds": 10,
        },
    }
    if value is not None:
        body["status"] = {"value": value, "rawValue": "MTAw", "lastUpdated": "2026-12-02T14:00:00Z"}
    path = f"{GROUP_PATH}/namespaces/{namespace}/keptnmetrics"
    try:
        current = await api.request("GET", f"{path}/{name}")
    except Exception:
        await api.request("POST", path, body=body)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await api.request("PUT", f"{path}/{name}", body=body)


class AnalysisController:
    """Completes every new Analysis with ``pass`` = :attr:`verdict`, recording the specs it saw."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.verdict = True
        self.seen: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        path = f"{GROUP_PATH}/namespaces/{self.namespace}/analyses"
        while True:
            for item in (await self.api.request("GET", path)).get("items") or []:
                if (item.get("status") or {}).get("state") != "Completed":
                    self.seen.append(item)
                    item["status"] = {"state": "Completed", "pass": self.verdict, "raw": "{}"}
                    with contextlib.suppress(Exception):
                        await self.api.request("PUT", f"{path}/{item['metadata']['name']}", body=item)
            await asyncio.sleep(0.05)

    def start(self) -> AnalysisController:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
