"""The real Prometheus scrapes a podinfo pod through the runtime's file_sd targets."""

from __future__ import annotations

import aiohttp
import pytest

from sandbox.prometheus import (
    SERVICE_NAME,
    SERVICE_NAMESPACE,
    Prometheus,
    PrometheusSettings,
    register_service,
)
from sandbox.runtime.kube import SERVICES
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import podinfo_deployment, pods_of

pytestmark = pytest.mark.timeout(120)


async def query(url: str, promql: str) -> list[dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/api/v1/query", params={"query": promql}) as response,
    ):
        body = await response.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])


async def test_prometheus_scrapes_pods_with_kubernetes_labels(cluster: Cluster) -> None:
    octet = cluster.runtime.settings.second_octet
    settings = PrometheusSettings(
        address=f"127.{octet}.0.9",
        state_dir=cluster.state_dir / "prometheus",
        targets_file=cluster.runtime.settings.scrape_targets_file,
        scrape_interval="1s",
    )
    prometheus = Prometheus(settings)
    await prometheus.start()
    try:
        await register_service(cluster.kube, settings.address)
        await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
        await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
        pod = (await pods_of(cluster, "podinfo"))[0]
        pod_name = str(pod["metadata"]["name"])  # type: ignore[index]
        pod_ip = pod["status"]["podIP"]  # type: ignore[index]
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(f"http://{pod_ip}:9898/status/500") as response:
                    assert response.status == 500

        promql = 'http_request_duration_seconds_count{kubernetes_namespace="default",status="500"}'

        async def scraped() -> list[dict[str, object]]:
            return await query(settings.url, promql)

        series = await eventually(scraped, within=40, what="prometheus to scrape the pod")
        labels = series[0]["metric"]
        assert isinstance(labels, dict)
        assert labels["kubernetes_pod_name"] == pod_name
        assert labels["app"] == "podinfo"
        assert series[0]["value"][1] == "3"  # type: ignore[index]

        # Flagger's builtin success-rate query shape matches the pod name with two dash segments.
        builtin = (
            'sum(http_request_duration_seconds_count{kubernetes_namespace="default",'
            'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"})'
        )
        assert await query(settings.url, builtin)

        async def proxied() -> bool:
            url = f"http://{SERVICE_NAME}.{SERVICE_NAMESPACE}:9090/api/v1/query?query=up"
            result = await cluster.in_cluster(f"curl -sf '{url}'")
            return result.returncode == 0 and '"status":"success"' in result.stdout

        await eventually(proxied, what="flagger-prometheus.flagger:9090 to answer inside the sandbox")
        service = await cluster.kube.get(SERVICES, SERVICE_NAMESPACE, SERVICE_NAME)
        assert service["spec"]["clusterIP"].startswith(f"127.{octet}.")
    finally:
        await prometheus.stop()
