"""The runtime survives what real API servers do: dropped watches, expired resource versions, errors."""

from __future__ import annotations

import asyncio

from sandbox.runtime.kube import DEPLOYMENTS
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import podinfo_deployment, pods_of


async def test_dropped_and_expired_watches_are_relisted(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    # Forget the history and cut every watch: reconnecting from the old resourceVersion gets 410 Gone.
    await asyncio.to_thread(cluster.server.compact)
    await asyncio.to_thread(cluster.server.faults.drop_watches)
    await cluster.kubectl("scale", "deployment/podinfo", "--replicas=2")
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    assert len(await pods_of(cluster, "podinfo")) == 2
    log = cluster.server.request_log
    lists = [r for r in log if r.resource == "deployments" and r.verb == "list" and not r.query]
    assert len(lists) >= 2, "the runtime listed deployments again after losing its watch"


async def test_failed_writes_are_retried(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.server.faults.fail, "create", "pods", 500, 2)
    await asyncio.to_thread(cluster.server.faults.fail, "patch", "deployments", 409, 1)
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")

    async def consistent() -> bool:
        deployment = await cluster.kube.get(DEPLOYMENTS, "default", "podinfo")
        return bool(
            deployment["status"].get("availableReplicas") == 1 and len(await pods_of(cluster, "podinfo")) == 1
        )

    await eventually(consistent, what="one available pod despite the failed writes")
