"""Services: a loopback ClusterIP, endpoints from ready pods, a round-robin proxy and cluster DNS names."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from sandbox.runtime.kube import ENDPOINTS, SERVICES
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import podinfo_deployment

SERVICE = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "default"},
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "port": 9898, "targetPort": "http"}],
        },
    }
)


async def test_service_gets_a_cluster_ip_and_proxies_round_robin(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=SERVICE)
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=2))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")

    async def two_ready_endpoints() -> list[str]:
        endpoints = await cluster.kube.get(ENDPOINTS, "default", "podinfo")
        addresses = [a["ip"] for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []]
        return addresses if len(addresses) == 2 else []

    addresses = await eventually(two_ready_endpoints, what="two ready endpoints")
    service = await cluster.kube.get(SERVICES, "default", "podinfo")
    cluster_ip = service["spec"]["clusterIP"]
    assert cluster_ip.startswith(f"127.{cluster.runtime.settings.second_octet}.")
    assert cluster_ip not in addresses

    hostnames = set()
    async with aiohttp.ClientSession() as session:
        for _ in range(4):
            async with session.get(f"http://{cluster_ip}:9898/", headers={"Connection": "close"}) as response:
                assert response.status == 200
                hostnames.add((await response.json())["hostname"])
    assert len(hostnames) == 2, "round robin reaches both pods"


async def test_service_without_ready_pods_refuses_connections(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=SERVICE)

    async def allocated() -> str:
        return str((await cluster.kube.get(SERVICES, "default", "podinfo"))["spec"].get("clusterIP", ""))

    cluster_ip = await eventually(allocated, what="a cluster IP")
    await eventually(lambda: _listening(cluster_ip, 9898), what="the proxy to listen")
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://{cluster_ip}:9898/") as response:
            raise AssertionError(f"unexpected answer {response.status}")
    except aiohttp.ClientError:
        pass


async def _listening(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    return True


async def test_cluster_dns_names_resolve_inside_the_namespace(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=SERVICE)
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1, tag="3.1.1"))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")

    async def endpoints_ready() -> bool:
        endpoints = await cluster.kube.get(ENDPOINTS, "default", "podinfo")
        return any(s.get("addresses") for s in endpoints.get("subsets") or [])

    await eventually(endpoints_ready, what="a ready endpoint")
    for name in ("podinfo.default", "podinfo.default.svc", "podinfo.default.svc.cluster.local"):
        result = await cluster.in_cluster(f"curl -sf http://{name}:9898/version")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["version"] == "3.1.1"
    outside = await cluster.in_cluster("true")
    assert outside.returncode == 0
    host_hosts = await asyncio.to_thread(Path("/etc/hosts").read_text)
    assert "podinfo.default" not in host_hosts, "the host's own /etc/hosts is untouched"


async def test_pods_resolve_short_names_of_their_own_namespace(cluster: Cluster) -> None:
    """Like DNS search domains: `podinfo` resolves for pods in `default` (their exec probes run there too)."""
    await cluster.kubectl("apply", "-f", "-", stdin=SERVICE)
    manifest = json.loads(podinfo_deployment(replicas=1))
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"] = {
        "exec": {
            "command": ["sh", "-c", "getent hosts podinfo && getent hosts podinfo.default.svc.cluster.local"]
        },
        "periodSeconds": 1,
    }
    await cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    outside_any_namespace = await cluster.in_cluster("getent hosts podinfo")
    assert outside_any_namespace.returncode != 0, "short names are only for pods of the namespace"
