"""kubernetes_asyncio against the API server: CRUD, patches, apply, subresources, watch, deletion, leases."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.apiserver.testing import ApiServer

from .conftest import PROJECT_CRDS, flagger_crds, flagger_crds_path, install_flagger_crds

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def deployment(name: str = "podinfo", image: str = "stefanprodan/podinfo:3.1.0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "podinfod", "image": image},
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ]
                },
            },
        },
    }


def canary(name: str = "podinfo", **analysis: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {"interval": "30s", "threshold": 2, "iterations": 10, **analysis},
        },
    }


async def test_core_crud_with_selectors_and_conflicts(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespace({"metadata": {"name": "test"}})
    namespace = await core.read_namespace("test")
    assert namespace.metadata.labels["kubernetes.io/metadata.name"] == "test"
    assert namespace.status.phase == "Active"

    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        await core.create_namespaced_config_map(
            "test", {"metadata": {"name": name, "labels": {"tier": tier}}, "data": {"k": name}}
        )
    web = await core.list_namespaced_config_map("test", label_selector="tier=web")
    assert [item.metadata.name for item in web.items] == ["a", "c"]
    not_web = await core.list_namespaced_config_map("test", label_selector="tier,tier notin (web)")
    assert [item.metadata.name for item in not_web.items] == ["b"]
    by_name = await core.list_namespaced_config_map("test", field_selector="metadata.name=b")
    assert [item.metadata.name for item in by_name.items] == ["b"]

    with pytest.raises(ApiException) as duplicate:
        await core.create_namespaced_config_map("test", {"metadata": {"name": "a"}})
    assert duplicate.value.status == 409

    stale = await core.read_namespaced_config_map("a", "test")
    await core.patch_namespaced_config_map("a", "test", {"data": {"k": "changed"}})
    stale.data = {"k": "stale"}
    with pytest.raises(ApiException) as conflict:
        await core.replace_namespaced_config_map("a", "test", stale)
    assert conflict.value.status == 409
    assert "the object has been modified" in conflict.value.body

    page = await core.list_namespaced_config_map("test", limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = await core.list_namespaced_config_map("test", limit=2, _continue=page.metadata._continue)
    # every namespace has kube-root-ca.crt, as on a real cluster
    assert [item.metadata.name for item in rest.items] == ["c", "kube-root-ca.crt"]

    await core.delete_namespaced_config_map("a", "test")
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_config_map("a", "test")
    assert missing.value.status == 404

    with pytest.raises(ApiException) as no_namespace:
        await core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert no_namespace.value.status == 404


async def test_deployment_patches_status_and_scale(api_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(api_client)
    created = await apps.create_namespaced_deployment("default", deployment())
    assert created.metadata.generation == 1
    assert created.spec.replicas == 1

    # Strategic merge patch (the default for built-ins): one container changes, the other stays.
    patched = await apps.patch_namespaced_deployment(
        "podinfo",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "podinfod", "image": "podinfo:3.1.1"}]}}}},
    )
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"podinfod": "podinfo:3.1.1", "sidecar": "busybox:1.36"}
    assert patched.metadata.generation == 2

    # JSON patch with a failing test op is rejected and changes nothing.
    with pytest.raises(ApiException) as failed_test:
        await apps.patch_namespaced_deployment(
            "podinfo",
            "default",
            [
                {"op": "test", "path": "/spec/replicas", "value": 5},
                {"op": "replace", "path": "/spec/replicas", "value": 9},
            ],
        )
    assert failed_test.value.status == 422
    assert (await apps.read_namespaced_deployment("podinfo", "default")).spec.replicas == 1

    # Status through the subresource: no generation bump; the main resource ignores status.
    status = {
        "status": {
            "observedGeneration": 2,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
        }
    }
    after_status = await apps.patch_namespaced_deployment_status("podinfo", "default", status)
    assert after_status.status.ready_replicas == 1 and after_status.metadata.generation == 2
    ignored = await apps.patch_namespaced_deployment(
        "podinfo", "default", {"status": {"readyReplicas": 7}}, _content_type=MERGE
    )
    assert ignored.status.ready_replicas == 1

    scale = await apps.read_namespaced_deployment_scale("podinfo", "default")
    assert scale.spec.replicas == 1 and scale.status.selector == "app=podinfo"
    scaled = await apps.patch_namespaced_deployment_scale("podinfo", "default", {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3
    after_scale = await apps.read_namespaced_deployment("podinfo", "default")
    assert after_scale.spec.replicas == 3 and after_scale.metadata.generation == 3


async def test_custom_objects_defaults_validation_and_patch_types(api_client: client.ApiClient) -> None:
    await install_flagger_crds(api_client)
    extensions = client.ApiextensionsV1Api(api_client)
    crd = await extensions.read_custom_resource_definition("canaries.flagger.app")
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"

    custom = client.CustomObjectsApi(api_client)
    body = canary(sessionAffinity={"cookieName": "flagger-cookie"})
    body["spec"]["unknownField"] = "pruned"
    created = await custom.create_namespaced_custom_object(
        "flagger.app", "v1beta1", "default", "canaries", body
    )
    assert created["spec"]["analysis"]["sessionAffinity"]["maxAge"] == 86400  # schema default
    assert "unknownField" not in created["spec"]  # pruned
    assert created["metadata"]["generation"] == 1

    with pytest.raises(ApiException) as invalid:
        await custom.create_namespaced_custom_object(
            "flagger.app", "v1beta1", "default", "canaries", canary("bad", threshold="two")
        )
    assert invalid.value.status == 422
    message = json.loads(invalid.value.body)["message"]
    assert message.startswith('Canary.flagger.app "bad" is invalid: spec.analysis.threshold: Invalid value')

    merged = await custom.patch_namespaced_custom_object(
        "flagger.app",
        "v1beta1",
        "default",
        "canaries",
        "podinfo",
        {"spec": {"analysis": {"threshold": 5}}},
        _content_type=MERGE,
    )
    assert merged["spec"]["analysis"]["threshold"] == 5 and merged["metadata"]["generation"] == 2

    json_patched = await custom.patch_namespaced_custom_object(
        "flagger.app",
        "v1beta1",
        "default",
        "canaries",
        "podinfo",
        [
            {"op": "test", "path": "/spec/analysis/threshold", "value": 5},
            {"op": "replace", "path": "/spec/analysis/iterations", "value": 3},
        ],
        _content_type=JSON_PATCH,
    )
    assert json_patched["spec"]["analysis"]["iterations"] == 3

    with pytest.raises(ApiException) as strategic:
        await custom.patch_namespaced_custom_object(
            "flagger.app",
            "v1beta1",
            "default",
            "canaries",
            "podinfo",
            {"spec": {}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert strategic.value.status == 415

    status = await custom.patch_namespaced_custom_object_status(
        "flagger.app",
        "v1beta1",
        "default",
        "canaries",
        "podinfo",
        {"status": {"phase": "Progressing", "canaryWeight": 0}},
        _content_type=MERGE,
    )
    assert status["status"]["phase"] == "Progressing"
    assert status["metadata"]["generation"] == json_patched["metadata"]["generation"]

    with pytest.raises(ApiException) as bad_status:
        await custom.patch_namespaced_custom_object_status(
            "flagger.app",
            "v1beta1",
            "default",
            "canaries",
            "podinfo",
            {"status": {"phase": "Sideways"}},
            _content_type=MERGE,
        )
    assert bad_status.value.status == 422

    listed = await custom.list_cluster_custom_object("flagger.app", "v1beta1", "canaries")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["podinfo"]

    await extensions.delete_custom_resource_definition("canaries.flagger.app")
    with pytest.raises(ApiException) as gone:
        await custom.get_namespaced_custom_object("flagger.app", "v1beta1", "default", "canaries", "podinfo")
    assert gone.value.status == 404


async def test_server_side_apply_create_conflict_and_force(api_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(api_client)
    applied = deployment()
    applied["metadata"]["namespace"] = "default"
    created = await apps.patch_namespaced_deployment(
        "podinfo", "default", applied, field_manager="tester", _content_type=APPLY
    )
    assert created.metadata.uid
    managers = {entry.manager: entry.operation for entry in created.metadata.managed_fields}
    assert managers == {"tester": "Apply"}

    other = copy.deepcopy(applied)
    other["spec"]["replicas"] = 4
    with pytest.raises(ApiException) as conflict:
        await apps.patch_namespaced_deployment(
            "podinfo", "default", other, field_manager="intruder", _content_type=APPLY
        )
    assert conflict.value.status == 409
    assert "spec.replicas" in conflict.value.body

    again = await apps.patch_namespaced_deployment(
        "podinfo", "default", applied, field_manager="tester", _content_type=APPLY
    )
    assert (
        again.metadata.resource_version == created.metadata.resource_version
    )  # a no-op apply writes nothing

    forced = await apps.patch_namespaced_deployment(
        "podinfo", "default", other, field_manager="intruder", force=True, _content_type=APPLY
    )
    assert forced.spec.replicas == 4

    with pytest.raises(ApiException) as no_manager:
        await api_client.call_api(
            "/apis/apps/v1/namespaces/default/deployments/podinfo",
            "PATCH",
            header_params={"Content-Type": APPLY, "User-Agent": ""},
            body=applied,
            response_types_map={},
        )
    assert (
        no_manager.value.status == 422
    )  # kube-apiserver: PatchOptions "" is invalid: fieldManager: Required value


async def test_watch_replay_bookmarks_and_gone(api_client: client.ApiClient, apiserver: ApiServer) -> None:
    core = client.CoreV1Api(api_client)
    start = await core.list_namespaced_config_map("default")
    since = start.metadata.resource_version
    await core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
    await core.patch_namespaced_config_map("one", "default", {"data": {"a": "b"}})
    await core.delete_namespaced_config_map("one", "default")

    seen = []
    stream = watch.Watch()
    async with stream.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=since,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    ) as events:
        async for event in events:
            seen.append(
                (event["type"], event["object"].metadata.name if event["type"] != "BOOKMARK" else None)
            )
    assert seen[:3] == [("ADDED", "one"), ("MODIFIED", "one"), ("DELETED", "one")]
    assert ("BOOKMARK", None) in seen[3:]

    apiserver.compact()
    with pytest.raises(ApiException) as gone:
        async with watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=since, timeout_seconds=1
        ) as events:
            async for _ in events:
                pass
    assert gone.value.status == 410


async def test_watch_delivers_live_events_filtered_by_label(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    received: list[tuple[str, str]] = []

    async def consume() -> None:
        async with watch.Watch().stream(
            core.list_namespaced_config_map, "default", label_selector="watched=yes", timeout_seconds=2
        ) as events:
            async for event in events:
                received.append((event["type"], event["object"].metadata.name))
                if len(received) == 3:
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "x", "labels": {"watched": "yes"}}}
    )
    await core.create_namespaced_config_map("default", {"metadata": {"name": "ignored"}})
    await core.patch_namespaced_config_map("x", "default", {"data": {"v": "1"}})
    await core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"watched": "no"}}})
    await asyncio.wait_for(task, 5)
    # Leaving the selector is delivered as DELETED, as kube-apiserver does.
    assert received == [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]


async def wait_until(predicate: Any, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _owned_replicaset(apps: client.AppsV1Api, owner: Any, name: str) -> None:
    await apps.create_namespaced_replica_set(
        "default",
        {
            "metadata": {
                "name": name,
                "labels": {"app": "podinfo"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": owner.metadata.name,
                        "uid": owner.metadata.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "selector": {"matchLabels": {"app": "podinfo"}},
                "template": deployment()["spec"]["template"],
            },
        },
    )


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
async def test_delete_propagation(api_client: client.ApiClient, policy: str) -> None:
    apps = client.AppsV1Api(api_client)
    owner = await apps.create_namespaced_deployment("default", deployment())
    await _owned_replicaset(apps, owner, "podinfo-rs")

    await apps.delete_namespaced_deployment("podinfo", "default", propagation_policy=policy)

    async def replicasets() -> list[Any]:
        return (await apps.list_namespaced_replica_set("default")).items

    async def owner_gone() -> bool:
        try:
            await apps.read_namespaced_deployment("podinfo", "default")
        except ApiException as exc:
            return exc.status == 404
        return False

    await wait_until(owner_gone)
    if policy == "Orphan":
        remaining = await replicasets()
        assert [rs.metadata.name for rs in remaining] == ["podinfo-rs"]
        assert not remaining[0].metadata.owner_references
    else:

        async def dependents_gone() -> bool:
            return not await replicasets()

        await wait_until(dependents_gone)


async def test_finalizers_hold_deletion_until_removed(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "held", "finalizers": ["x/y"]}})
    await core.delete_namespaced_config_map("held", "default")
    held = await core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as refused:
        await core.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["x/y", "new/one"]}}
        )
    assert refused.value.status == 422
    await core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        await core.read_namespaced_config_map("held", "default")
    assert gone.value.status == 404


async def test_namespace_lifecycle(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespace({"metadata": {"name": "doomed"}})
    await core.create_namespaced_config_map("doomed", {"metadata": {"name": "content"}})
    await core.delete_namespace("doomed")

    async def namespace_gone() -> bool:
        try:
            namespace = await core.read_namespace("doomed")
        except ApiException as exc:
            return exc.status == 404
        assert namespace.status.phase == "Terminating"
        return False

    await wait_until(namespace_gone)
    assert not (
        await core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=doomed")
    ).items


async def test_lease_optimistic_concurrency(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    body = {
        "metadata": {"name": "leader"},
        "spec": {
            "holderIdentity": "a",
            "leaseDurationSeconds": 15,
            "renewTime": "2026-01-01T00:00:00.000000Z",
        },
    }
    created = await leases.create_namespaced_lease("default", body)
    assert created.spec.renew_time is not None
    first = await leases.read_namespaced_lease("leader", "default")
    second = await leases.read_namespaced_lease("leader", "default")
    first.spec.holder_identity = "b"
    await leases.replace_namespaced_lease("leader", "default", first)
    second.spec.holder_identity = "c"
    with pytest.raises(ApiException) as conflict:
        await leases.replace_namespaced_lease("leader", "default", second)
    assert conflict.value.status == 409
    assert (await leases.read_namespaced_lease("leader", "default")).spec.holder_identity == "b"


async def test_events_are_visible_through_both_apis(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    events = client.EventsV1Api(api_client)
    involved = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": "default",
        "uid": "u-1",
    }
    await core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "podinfo.1889e5a2c0f0a001"},
            "involvedObject": involved,
            "reason": "Synced",
            "message": "core message",
            "type": "Normal",
            "source": {"component": "flagman"},
        },
    )
    await events.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "podinfo.1889e5a2c0f0a002"},
            "regarding": involved,
            "reason": "Promoted",
            "note": "events.k8s.io note",
            "type": "Normal",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "flagman",
            "reportingInstance": "flagman-1",
            "action": "Promote",
        },
    )
    core_view = await core.list_namespaced_event("default", field_selector="involvedObject.name=podinfo")
    assert sorted(e.message for e in core_view.items) == ["core message", "events.k8s.io note"]
    new_view = await events.list_namespaced_event("default")
    assert sorted(e.note for e in new_view.items) == ["core message", "events.k8s.io note"]
    assert all(e.regarding.name == "podinfo" for e in new_view.items)


async def test_dry_run_persists_nothing(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    shown = await core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert shown.metadata.name == "dry"
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_config_map("dry", "default")
    assert missing.value.status == 404


async def test_injected_conflict_reaches_the_client(
    api_client: client.ApiClient, apiserver: ApiServer
) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "target"}})
    apiserver.faults.fail("patch", "configmaps", 409)
    with pytest.raises(ApiException) as injected:
        await core.patch_namespaced_config_map("target", "default", {"data": {"a": "1"}})
    assert injected.value.status == 409
    # Only the next request was affected.
    patched = await core.patch_namespaced_config_map("target", "default", {"data": {"a": "1"}})
    assert patched.data == {"a": "1"}
    apiserver.faults.fail(None, "configmaps", 500, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as server_error:
            await core.read_namespaced_config_map("target", "default")
        assert server_error.value.status == 500
    statuses = [r.status for r in apiserver.request_log if r.resource == "configmaps"]
    assert statuses.count(409) == 1 and statuses.count(500) == 2


WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "scale": {
                        "specReplicasPath": ".spec.size",
                        "statusReplicasPath": ".status.ready",
                        "labelSelectorPath": ".status.selector",
                    }
                },
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def test_crd_scale_subresource_and_generation_without_status(api_client: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api_client).create_custom_resource_definition(WIDGETS_CRD)
    custom = client.CustomObjectsApi(api_client)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 2},
        "status": {"ready": 1, "selector": "app=w"},
    }
    created = await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    assert created["status"] == {"ready": 1, "selector": "app=w"}  # no status subresource: status is kept
    scale = await custom.get_namespaced_custom_object_scale("example.com", "v1", "default", "widgets", "w")
    assert scale["spec"]["replicas"] == 2
    assert scale["status"] == {"replicas": 1, "selector": "app=w"}
    await custom.patch_namespaced_custom_object_scale(
        "example.com", "v1", "default", "widgets", "w", {"spec": {"replicas": 5}}, _content_type=MERGE
    )
    after = await custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    assert after["spec"]["size"] == 5 and after["metadata"]["generation"] == 2
    # Without a status subresource, a status change is a spec-like change: generation moves.
    status_changed = await custom.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"status": {"ready": 5}}, _content_type=MERGE
    )
    assert status_changed["metadata"]["generation"] == 3


def _declared_default(crd: dict[str, Any], path: list[str]) -> Any:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for key in path:
        schema = (schema.get("properties") or {}).get(key) or {}
    return schema.get("default")


async def test_canary_without_interval_reads_back_with_the_crd_defaults(api_client: client.ApiClient) -> None:
    await install_flagger_crds(api_client)
    crd = next(c for c in flagger_crds() if c["metadata"]["name"] == "canaries.flagger.app")
    body = canary()
    del body["spec"]["analysis"]["interval"]
    created = await client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "flagger.app", "v1beta1", "default", "canaries", body
    )
    # Whatever the CRD declares is filled in, as a real cluster does; undeclared defaults stay absent
    # (Flagger's own CRD declares none for these two: the controller applies 60s and 600 itself).
    for path in (["spec", "analysis", "interval"], ["spec", "progressDeadlineSeconds"]):
        value: Any = created
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        assert value == _declared_default(crd, path), path
    if flagger_crds_path() == PROJECT_CRDS:  # the project's CRD declares Flagger's code defaults
        assert created["spec"]["analysis"]["interval"] == "60s"
        assert created["spec"]["progressDeadlineSeconds"] == 600
