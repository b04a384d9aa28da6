"""externalmetrics on the real control plane: kube-apiserver aggregates ``external.metrics.k8s.io`` from
the sandbox's adapter (`sandbox.apiserver.external_metrics.external_metrics_app` over HTTPS) through an
APIService, and the provider reads it through the controller's `KubeClusterAccess`, as in a cluster.

The APIService points at an ExternalName Service (``localhost``), which the aggregator resolves without
cluster networking. Skips when the control plane is not built (``make control-plane``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.error
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import build_provider
from controller.api.templates import MetricProvider
from controller.errors import NoValuesError
from controller.kube.api import KubeApi
from controller.kube.cluster_access import KubeClusterAccess
from sandbox.apiserver.external_metrics import ExternalMetrics, external_metrics_app
from sandbox.controlplane import ControlPlane
from tests.controller.analysis.helpers import self_signed_context

APISERVICE = "v1beta1.external.metrics.k8s.io"


@pytest.fixture
async def adapter(
    control_plane: ControlPlane, real_namespace: str, tmp_path: Path
) -> AsyncIterator[ExternalMetrics]:
    store = ExternalMetrics()
    runner = web.AppRunner(external_metrics_app(store), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed_context(tmp_path))
    await site.start()
    port = runner.addresses[0][1]
    control_plane.admin_request(
        "POST",
        f"/api/v1/namespaces/{real_namespace}/services",
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "metrics-adapter"},
         "spec": {"type": "ExternalName", "externalName": "localhost", "ports": [{"port": port}]}},
    )  # fmt: skip
    control_plane.admin_request(
        "POST",
        "/apis/apiregistration.k8s.io/v1/apiservices",
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": APISERVICE},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "service": {"namespace": real_namespace, "name": "metrics-adapter", "port": port},
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            body = await asyncio.to_thread(
                control_plane.admin_request,
                "GET",
                f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}",
            )
            conditions = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
            if conditions.get("Available", {}).get("status") == "True":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"APIService never became available: {conditions}")
            await asyncio.sleep(0.2)
        yield store
    finally:
        with contextlib.suppress(urllib.error.URLError, OSError):
            control_plane.admin_request("DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
        await runner.cleanup()


async def test_external_metric_through_the_aggregated_api(
    control_plane: ControlPlane, real_namespace: str, adapter: ExternalMetrics
) -> None:
    adapter.set(real_namespace, "queue_depth", 4.25, {"queue": "orders"})
    adapter.set(real_namespace, "queue_depth", 1, {"queue": "refunds"})
    api = await KubeApi.connect(str(control_plane.admin_kubeconfig))
    try:
        async with aiohttp.ClientSession() as session:
            provider = build_provider(
                MetricProvider(type="externalmetrics"),
                None,
                session,
                cluster=KubeClusterAccess(api.configuration),
            )
            await provider.check_online()
            query = f"{real_namespace}/queue_depth?labelSelector=queue%3Dorders"
            assert await provider.run_query(query) == 4.25
            with pytest.raises(NoValuesError, match="no external metrics found"):
                await provider.run_query(f"{real_namespace}/unknown")
    finally:
        await api.close()
