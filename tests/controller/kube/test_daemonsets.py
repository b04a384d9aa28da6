"""DaemonSet targets (Flagger's daemonset_controller.go): derivations, and the workloads adapter against
the sandbox API server over loopback HTTP (status written by the test, as a DaemonSet controller would)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api import Canary
from controller.errors import KubeError, TargetError
from controller.kube.api import CANARIES, CONFIGMAPS, DAEMONSETS, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.objects import CanaryOwner
from controller.kube.primary import build_primary_deployment, promoted_primary, without_scale_to_zero
from controller.kube.selectors import SelectorLabel
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from controller.rollout.ports import DaemonSetState, Role
from tests.controller.kube.daemonsets import podinfo_ds, podinfo_ds_canary, podinfo_ds_config
from tests.controller.kube.support import eventually

OWNER = CanaryOwner(name="podinfo-ds", namespace="test", uid="uid-1")
LABEL = SelectorLabel("name", "podinfo-ds")
SCALED_TO_ZERO = {"kubernetes.io/os": "linux", "flagger.app/scale-to-zero": "true"}


def test_primary_daemonset_copies_the_target_without_replicas_or_scale_to_zero() -> None:
    target = podinfo_ds()
    target["spec"]["template"]["spec"]["nodeSelector"] = dict(SCALED_TO_ZERO)
    primary = build_primary_deployment(
        target,
        OWNER,
        LABEL,
        include_prefixes=(),
        selector_labels=("name",),
        kind="DaemonSet",
        flagger_id="id-1",
    )
    assert primary["kind"] == "DaemonSet" and primary["metadata"]["name"] == "podinfo-ds-primary"
    spec = primary["spec"]
    assert "replicas" not in spec and "progressDeadlineSeconds" not in spec
    assert spec["updateStrategy"] == target["spec"]["updateStrategy"]
    assert (spec["minReadySeconds"], spec["revisionHistoryLimit"]) == (3, 5)
    assert spec["selector"] == {"matchLabels": {"name": "podinfo-ds-primary"}}
    assert spec["template"]["metadata"]["labels"] == {"name": "podinfo-ds-primary"}
    assert spec["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}

    target["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:6.0.1"
    target["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    promoted = promoted_primary(
        primary, target, LABEL, include_prefixes=(), selector_labels=("name",), has_autoscaler=False,
        configs_changed=False, kind="DaemonSet",
    )  # fmt: skip
    assert promoted["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":6.0.1")
    assert promoted["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert (
        promoted["spec"]["updateStrategy"] == {"type": "RollingUpdate"} and "replicas" not in promoted["spec"]
    )


def test_scale_to_zero_is_not_part_of_the_revision() -> None:
    template = podinfo_ds()["spec"]["template"]
    zeroed = without_scale_to_zero({**template, "spec": {**template["spec"], "nodeSelector": SCALED_TO_ZERO}})
    assert zeroed == template
    bare = {"spec": {"nodeSelector": {"flagger.app/scale-to-zero": "true"}, "containers": []}}
    assert without_scale_to_zero(bare) == {"spec": {"containers": []}}  # nil and {} hash alike


async def _seed(api: KubeApi, target: dict[str, Any] | None = None) -> Canary:
    await api.create(CONFIGMAPS, "test", podinfo_ds_config())
    await api.create(DAEMONSETS, "test", target or podinfo_ds())
    return Canary.from_dict(await api.create(CANARIES, "test", podinfo_ds_canary()))


async def _cached(cluster: Cluster, name: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return cluster.daemonsets.get("test", name)

    return await eventually(probe, what=f"daemonset {name} in the cache")


async def _write_status(api: KubeApi, name: str, **status: int) -> None:
    body = await api.get(DAEMONSETS, "test", name)
    body["status"] = {"observedGeneration": body["metadata"]["generation"], **status}
    await api.request("PUT", DAEMONSETS.path("test", name, "status"), body=body)


async def test_daemonset_workloads_against_the_api_server(api: KubeApi, cluster: Cluster) -> None:
    canary = await _seed(api)
    await _cached(cluster, "podinfo-ds")
    await eventually(lambda: _config_cached(cluster), what="the config in the cache")
    workloads = KubeWorkloads(cluster, WorkloadOptions())

    target = await workloads.discover(canary)
    assert (target.label, target.value) == ("name", "podinfo-ds")
    assert [(p.name, p.port) for p in target.ports] == [("http-metrics", 9797)]  # portDiscovery
    revision = await workloads.revision(canary)
    assert set(revision.tracked_configs) == {"configmap/podinfo-ds-config"}

    await workloads.ensure_primary(canary, target)
    primary = await api.get(DAEMONSETS, "test", "podinfo-ds-primary")
    assert primary["spec"]["selector"] == {"matchLabels": {"name": "podinfo-ds-primary"}}
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["configMapRef"]["name"] == "podinfo-ds-config-primary"

    # Readiness from the DaemonSet status fields.
    await _write_status(
        api, "podinfo-ds-primary", desiredNumberScheduled=1, updatedNumberScheduled=0, numberAvailable=0
    )
    await eventually(lambda: _state_is(workloads, canary, 1, 0), what="status in the cache")
    await _write_status(
        api, "podinfo-ds-primary", desiredNumberScheduled=1, updatedNumberScheduled=1, numberAvailable=1
    )
    await eventually(lambda: _state_is(workloads, canary, 1, 1), what="status in the cache")

    # "Scaled to zero": the nodeSelector no node matches; the revision does not change.
    await workloads.scale_to_zero(canary)
    node_selector = (await api.get(DAEMONSETS, "test", "podinfo-ds"))["spec"]["template"]["spec"][
        "nodeSelector"
    ]
    assert node_selector == SCALED_TO_ZERO
    assert await workloads.revision(canary) == revision
    await workloads.scale_from_zero(canary)
    node_selector = (await api.get(DAEMONSETS, "test", "podinfo-ds"))["spec"]["template"]["spec"][
        "nodeSelector"
    ]
    assert node_selector == {"kubernetes.io/os": "linux"}

    # Promotion copies the template (without the scale-to-zero key) and the configs.
    await workloads.scale_to_zero(canary)
    await api.request(
        "PATCH",
        DAEMONSETS.path("test", "podinfo-ds"),
        body={
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "podinfod", "image": "ghcr.io/stefanprodan/podinfo:6.0.1"}]
                    }
                }
            }
        },
        content_type="application/strategic-merge-patch+json",
    )
    await eventually(lambda: _image_cached(cluster, "6.0.1"), what="the new image in the cache")
    assert (await workloads.revision(canary)).spec_hash != revision.spec_hash
    await workloads.promote(canary, target)
    primary = await api.get(DAEMONSETS, "test", "podinfo-ds-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":6.0.1")
    assert primary["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}

    # revertOnDeletion scales the target from zero.
    await workloads.revert(canary)
    assert (
        "flagger.app/scale-to-zero"
        not in (await api.get(DAEMONSETS, "test", "podinfo-ds"))["spec"]["template"]["spec"]["nodeSelector"]
    )


async def _config_cached(cluster: Cluster) -> bool:
    return await cluster.configmaps.fetch("test", "podinfo-ds-config") is not None


async def _image_cached(cluster: Cluster, tag: str) -> bool:
    target = cluster.daemonsets.get("test", "podinfo-ds") or {}
    return str(target["spec"]["template"]["spec"]["containers"][0]["image"]).endswith(tag)


async def _state_is(workloads: KubeWorkloads, canary: Canary, desired: int, updated: int) -> bool:
    state = await workloads.deployment(canary, Role.PRIMARY)
    assert isinstance(state, DaemonSetState)
    return (state.desired_number_scheduled, state.updated_number_scheduled) == (desired, updated)


async def test_on_delete_strategy_and_missing_target_are_flaggers_errors(
    api: KubeApi, cluster: Cluster
) -> None:
    target = podinfo_ds()
    target["spec"]["updateStrategy"] = {"type": "OnDelete"}
    canary = await _seed(api, target)
    await _cached(cluster, "podinfo-ds")
    workloads = KubeWorkloads(cluster, WorkloadOptions())
    with pytest.raises(
        KubeError, match=r"daemonset podinfo-ds\.test must have RollingUpdate strategy but have OnDelete"
    ):
        await workloads.ensure_primary(canary, await workloads.discover(canary))
    await api.request("DELETE", DAEMONSETS.path("test", "podinfo-ds"))
    await eventually(lambda: _gone(cluster), what="the deletion in the cache")
    with pytest.raises(
        TargetError, match=r'daemonset podinfo-ds\.test get query error: daemonsets\.apps "podinfo-ds"'
    ):
        await workloads.discover(canary)


async def _gone(cluster: Cluster) -> bool:
    return cluster.daemonsets.get("test", "podinfo-ds") is None
