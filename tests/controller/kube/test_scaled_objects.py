"""KEDA ScaledObject autoscalerRef (Flagger's scaled_object_reconciler.go): derivations, and the adapter
against the sandbox API server with KEDA's CRD installed (no KEDA operator: the objects are checked)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api import Canary
from controller.errors import CanaryValidationError, KubeError
from controller.kube.api import CANARIES, DEPLOYMENTS, SCALED_OBJECTS, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.objects import CanaryOwner
from controller.kube.scaledobjects import PAUSED_REPLICAS_ANNOTATION, build_primary_scaled_object
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from tests.controller.kube import objects
from tests.controller.kube.keda import install_keda_crd, podinfo_scaled_object
from tests.controller.kube.support import eventually

OWNER = CanaryOwner(name="podinfo", namespace="test", uid="uid-1")


def test_primary_scaled_object_targets_the_primary_with_rewritten_queries() -> None:
    source = podinfo_scaled_object()
    source["metadata"]["annotations"] = {
        PAUSED_REPLICAS_ANNOTATION: "0",
        "kustomize.toolkit.fluxcd.io/x": "y",
    }
    source["spec"]["advanced"] = {"horizontalPodAutoscalerConfig": {"name": "podinfo-hpa"}}
    primary = build_primary_scaled_object(source, "podinfo", OWNER, {}, {"minReplicas": 2})
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["metadata"]["annotations"] == {}  # never paused, no Flux keys
    assert primary["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    spec = primary["spec"]
    assert spec["scaleTargetRef"] == {"name": "podinfo-primary"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 6)
    assert spec["triggers"][0]["metadata"]["query"] == (
        'sum(rate(http_requests_total{app="podinfo-primary"}[2m]))'
        ' + sum(rate(http_requests_total{app="podinfo-primary"}[2m]))'
    )
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo-hpa-primary"
    assert source["spec"]["triggers"][0]["metadata"]["query"].startswith(
        'sum(rate(http_requests_total{app="podinfo-canary"}'
    )


def test_primary_scaler_queries_replace_the_named_triggers_only() -> None:
    source = podinfo_scaled_object()
    source["spec"]["triggers"].append({"type": "cpu", "metadata": {"value": "50"}})
    primary = build_primary_scaled_object(source, "podinfo", OWNER, {"requests": "vector(42)"})
    assert [t["metadata"].get("query") for t in primary["spec"]["triggers"]] == ["vector(42)", None]
    assert primary["spec"]["advanced"] == {"horizontalPodAutoscalerConfig": {}}  # as Flagger writes it


def test_validation_names_both_autoscaler_kinds() -> None:
    body = objects.tutorial_canary()
    body["metadata"]["namespace"] = "test"
    body["spec"]["autoscalerRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    with pytest.raises(
        CanaryValidationError, match="must be HorizontalPodAutoscaler or ScaledObject, got 'Deployment'"
    ):
        Canary.from_dict(body)


async def _seed(api: KubeApi, autoscaler: dict[str, Any]) -> Canary:
    await install_keda_crd(api)
    await api.create(DEPLOYMENTS, "test", objects.podinfo(replicas=None))
    await api.create(SCALED_OBJECTS, "test", podinfo_scaled_object())
    body = objects.tutorial_canary()
    body["spec"]["autoscalerRef"] = autoscaler
    for key in ("configMap", "secret"):
        body["spec"].pop(key, None)
    return Canary.from_dict(await api.create(CANARIES, "test", body))


async def _target_cached(cluster: Cluster) -> None:
    async def probe() -> dict[str, Any] | None:
        return cluster.deployments.get("test", "podinfo")

    await eventually(probe, what="the target in the cache")


async def _paused(api: KubeApi) -> str | None:
    so = await api.get(SCALED_OBJECTS, "test", "podinfo")
    return (so["metadata"].get("annotations") or {}).get(PAUSED_REPLICAS_ANNOTATION)


async def test_scaled_object_lifecycle_against_the_api_server(api: KubeApi, cluster: Cluster) -> None:
    canary = await _seed(
        api,
        {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "podinfo",
         "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 5}},
    )  # fmt: skip
    await _target_cached(cluster)
    workloads = KubeWorkloads(cluster, WorkloadOptions())
    target = await workloads.discover(canary)

    await workloads.ensure_primary_autoscaler(canary, target, update=False)
    primary = await api.get(SCALED_OBJECTS, "test", "podinfo-primary")
    assert primary["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert (primary["spec"]["minReplicaCount"], primary["spec"]["maxReplicaCount"]) == (2, 5)
    assert 'app="podinfo-primary"' in primary["spec"]["triggers"][0]["metadata"]["query"]

    # Initialization / Finalising / rollback: paused at 0 first, so KEDA cannot scale the target back up.
    await workloads.scale_to_zero(canary)
    assert await _paused(api) == "0"
    assert (await api.get(DEPLOYMENTS, "test", "podinfo"))["spec"]["replicas"] == 0
    # A new revision: resumed, and scaled to the ScaledObject's minReplicaCount (> 1), as Flagger.
    await workloads.scale_from_zero(canary)
    assert await _paused(api) is None
    assert (await api.get(DEPLOYMENTS, "test", "podinfo"))["spec"]["replicas"] == 3

    # A changed target ScaledObject reaches the primary only at promotion (update=True).
    await api.merge_patch(SCALED_OBJECTS, "test", "podinfo", {"spec": {"cooldownPeriod": 60}})
    await workloads.ensure_primary_autoscaler(canary, target, update=False)
    assert (await api.get(SCALED_OBJECTS, "test", "podinfo-primary"))["spec"]["cooldownPeriod"] == 20
    await workloads.ensure_primary_autoscaler(canary, target, update=True)
    assert (await api.get(SCALED_OBJECTS, "test", "podinfo-primary"))["spec"]["cooldownPeriod"] == 60

    # revertOnDeletion resumes the target's scaler.
    await workloads.scale_to_zero(canary)
    await workloads.revert(canary)
    assert await _paused(api) is None


async def test_missing_scaled_object_is_flaggers_error(api: KubeApi, cluster: Cluster) -> None:
    canary = await _seed(api, {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "missing"})
    workloads = KubeWorkloads(cluster, WorkloadOptions())
    await _target_cached(cluster)
    with pytest.raises(KubeError, match=r"^Keda ScaledObject missing.test get query error: "):
        await workloads.ensure_primary_autoscaler(canary, await workloads.discover(canary), update=False)
