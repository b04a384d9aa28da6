"""``{target}-previous`` (``controller/kube/previous.py``) and the apex switched to it, against the sandbox
API server over loopback HTTP."""

from __future__ import annotations

from typing import Any

from controller.api import Canary
from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, SECRETS, SERVICES, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.previous import REVISION_ANNOTATION, KubePreviousVersions
from controller.kube.router import KubeRouter
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from controller.rollout.ports import Role
from tests.controller.kube import objects
from tests.controller.kube.support import eventually

OLD, NEW = "stefanprodan/podinfo:3.1.0", "stefanprodan/podinfo:3.1.1"


def image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_keep_restore_and_scale_down_the_previous_version(api: KubeApi, cluster: Cluster) -> None:
    await api.create(CONFIGMAPS, "test", objects.podinfo_config())
    await api.create(SECRETS, "test", objects.podinfo_secret())
    await api.create(DEPLOYMENTS, "test", objects.podinfo(OLD, replicas=2))
    canary = Canary.from_dict(await api.create(CANARIES, "test", objects.tutorial_canary()))

    async def cached() -> bool:
        return cluster.deployments.get("test", "podinfo") is not None

    await eventually(cached, what="the target in the cache")
    workloads = KubeWorkloads(cluster, WorkloadOptions())
    previous = KubePreviousVersions(cluster)
    router = KubeRouter(cluster)
    target = await workloads.discover(canary)
    await workloads.ensure_primary(canary, target)
    assert await previous.state(canary) is None

    # Before a promotion: the primary (OLD) is copied, its pods labelled podinfo-previous.
    await previous.keep(canary, target, "fm1-old")
    kept = await api.get(DEPLOYMENTS, "test", "podinfo-previous")
    assert image(kept) == OLD and kept["spec"]["replicas"] == 2
    assert kept["spec"]["selector"]["matchLabels"] == {"app": "podinfo-previous"}
    assert kept["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-previous"
    assert kept["metadata"]["annotations"][REVISION_ANNOTATION] == "fm1-old"
    assert kept["metadata"]["ownerReferences"][0]["name"] == "podinfo"
    state = await previous.state(canary)
    assert state is not None and state.revision == "fm1-old" and state.workload.spec_replicas == 2

    # The promotion updates the primary; keeping again for the same promotion changes nothing.
    target_body = await api.get(DEPLOYMENTS, "test", "podinfo")
    target_body["spec"]["template"]["spec"]["containers"][0]["image"] = NEW
    cluster.deployments.remember(await api.replace(DEPLOYMENTS, "test", "podinfo", target_body))
    await workloads.promote(canary, target)
    await previous.keep(canary, target, "fm1-old")
    assert image(await api.get(DEPLOYMENTS, "test", "podinfo-previous")) == OLD

    # The instant rollback: the apex selects the previous pods; the primary gets their template back.
    await router.initialize(canary, target)
    await router.reconcile(canary, target, apex_selects=Role.PREVIOUS)
    assert (await api.get(SERVICES, "test", "podinfo"))["spec"]["selector"] == {"app": "podinfo-previous"}
    await previous.restore_primary(canary, target)
    primary = await api.get(DEPLOYMENTS, "test", "podinfo-primary")
    assert image(primary) == OLD
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"

    await previous.scale_down(canary)
    assert (await api.get(DEPLOYMENTS, "test", "podinfo-previous"))["spec"]["replicas"] == 0
    assert await previous.state(canary) is None
