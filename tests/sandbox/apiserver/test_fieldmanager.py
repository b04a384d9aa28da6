"""managedFields and server-side apply: ownership, conflicts, force, removal of dropped fields."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.fieldmanager import (
    ApplyConflict,
    fields_v1,
    parse_fields_v1,
    path_string,
    record_write,
    server_side_apply,
)
from tests.data import tutorial

DATA = Path(__file__).parent / "data" / "libs"
T0, T1, T2 = "2026-11-26T10:00:00Z", "2026-11-26T10:01:00Z", "2026-11-26T10:02:00Z"


def at(stamp: str) -> Any:
    return lambda: stamp


def deployment(image: str = "stefanprodan/podinfo:3.1.0", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": image,
                            "ports": [{"containerPort": 9898, "protocol": "TCP"}],
                        }
                    ]
                },
            },
        },
    }


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str) -> set[str]:
    entry = entries(obj).get((manager, operation))
    return {path_string(p) for p in parse_fields_v1(entry["fieldsV1"])} if entry else set()


APPLIED_DEPLOYMENT_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"podinfod"}': {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {
                            'k:{"containerPort":9898,"protocol":"TCP"}': {
                                ".": {},
                                "f:containerPort": {},
                                "f:protocol": {},
                            }
                        },
                    }
                }
            },
        },
    },
}


class TestApplyCreate:
    def test_create_if_absent_records_the_applied_fields(self) -> None:
        created = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        assert created["spec"] == deployment()["spec"]
        assert created["metadata"]["managedFields"] == [
            {
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": APPLIED_DEPLOYMENT_FIELDS,
            }
        ]

    def test_label_selector_is_atomic_but_labels_are_granular(self) -> None:
        created = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        paths = owned(created, "kubectl", "Apply")
        assert ".spec.selector" in paths
        assert ".spec.selector.matchLabels.app" not in paths
        assert ".metadata.labels.app" in paths

    def test_server_set_metadata_is_never_owned(self) -> None:
        applied = deployment()
        applied["metadata"].update(uid="x", resourceVersion="3", generation=4, creationTimestamp=T0)
        created = server_side_apply(None, applied, "helm", force=False, now=at(T0))
        fields = created["metadata"]["managedFields"][0]["fieldsV1"]
        assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
        assert "f:apiVersion" not in fields and "f:kind" not in fields

    def test_namespace_apply_as_helm_sends_it(self) -> None:
        applied = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"labels": {"name": "hel"}, "name": "hel"},
            "spec": {},
            "status": {},
        }
        created = server_side_apply(None, applied, "helm", force=False, now=at(T0))
        assert created["metadata"]["managedFields"][0]["fieldsV1"] == {
            "f:metadata": {"f:labels": {"f:name": {}}},
            "f:spec": {},
            "f:status": {},
        }

    def test_inputs_are_untouched(self) -> None:
        applied = deployment()
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        before = (copy.deepcopy(applied), copy.deepcopy(live))
        server_side_apply(live, applied, "other", force=True, now=at(T1))
        assert (applied, live) == before


class TestApplyUpdate:
    def test_reapply_changes_values_it_owns_without_conflict(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        result = server_side_apply(
            live, deployment(image="podinfo:3.1.1"), "kubectl", force=False, now=at(T1)
        )
        assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "podinfo:3.1.1"
        assert [e["time"] for e in result["metadata"]["managedFields"]] == [T1]

    def test_conflict_with_an_update_manager_is_409_listing_the_fields(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        scaled = copy.deepcopy(live)
        scaled["spec"]["replicas"] = 5
        live = record_write(live, scaled, "kubectl-scale", "Update", now=at(T1))
        with pytest.raises(ApplyConflict) as caught:
            server_side_apply(live, deployment(replicas=2), "kubectl", force=False, now=at(T2))
        status = caught.value.to_status()
        assert status["code"] == 409
        assert status["reason"] == "Conflict"
        assert status["message"] == (
            'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
        )
        assert status["details"] == {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-scale" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        }

    def test_same_value_is_shared_ownership_without_conflict(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        result = server_side_apply(live, deployment(), "helm", force=False, now=at(T1))
        assert ".spec.replicas" in owned(result, "kubectl", "Apply")
        assert ".spec.replicas" in owned(result, "helm", "Apply")

    def test_second_applier_conflicts_and_force_takes_ownership(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        other = deployment(image="podinfo:9", replicas=7)
        with pytest.raises(ApplyConflict) as caught:
            server_side_apply(live, other, "flagman", force=False, now=at(T1))
        assert caught.value.message == (
            'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\n'
            '- .spec.template.spec.containers[name="podinfod"].image'
        )
        forced = server_side_apply(live, other, "flagman", force=True, now=at(T1))
        assert forced["spec"]["replicas"] == 7
        assert ".spec.replicas" in owned(forced, "flagman", "Apply")
        assert ".spec.replicas" not in owned(forced, "kubectl", "Apply")
        assert '.spec.template.spec.containers[name="podinfod"].image' not in owned(
            forced, "kubectl", "Apply"
        )
        assert ".metadata.labels.app" in owned(forced, "kubectl", "Apply")

    def test_conflict_message_names_a_subresource_manager(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        with_status = copy.deepcopy(live)
        with_status["status"] = {"replicas": 2}
        live = record_write(live, with_status, "controller", "Update", "status", now=at(T1))
        applied = deployment()
        applied["status"] = {"replicas": 3}
        with pytest.raises(ApplyConflict) as caught:
            server_side_apply(live, applied, "kubectl", force=False, now=at(T2))
        assert caught.value.message == (
            'Apply failed with 1 conflict: conflict with "controller" with subresource "status" '
            "using apps/v1: .status.replicas"
        )

    def test_fields_no_longer_applied_are_removed(self) -> None:
        applied = deployment()
        applied["metadata"]["labels"]["tier"] = "web"
        applied["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
        live = server_side_apply(None, applied, "kubectl", force=False, now=at(T0))
        result = server_side_apply(live, deployment(), "kubectl", force=False, now=at(T1))
        assert result["metadata"]["labels"] == {"app": "podinfo"}
        assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["podinfod"]
        assert result["metadata"]["managedFields"][0]["fieldsV1"] == APPLIED_DEPLOYMENT_FIELDS

    def test_fields_dropped_by_one_applier_stay_when_another_owns_them(self) -> None:
        applied = deployment()
        applied["metadata"]["labels"]["tier"] = "web"
        live = server_side_apply(None, applied, "kubectl", force=False, now=at(T0))
        live = server_side_apply(live, {**applied, "spec": {}}, "helm", force=False, now=at(T1))
        result = server_side_apply(live, deployment(), "kubectl", force=False, now=at(T2))
        assert result["metadata"]["labels"] == {"app": "podinfo", "tier": "web"}
        assert ".metadata.labels.tier" in owned(result, "helm", "Apply")

    def test_fields_set_by_an_update_are_kept_when_an_applier_drops_its_own(self) -> None:
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        annotated = copy.deepcopy(live)
        annotated["metadata"]["annotations"] = {"note": "kept"}
        live = record_write(live, annotated, "kubectl-annotate", "Update", now=at(T1))
        result = server_side_apply(live, deployment(), "kubectl", force=False, now=at(T2))
        assert result["metadata"]["annotations"] == {"note": "kept"}

    def test_containers_merge_by_name_and_set_lists_by_value(self) -> None:
        base = deployment()
        base["metadata"]["finalizers"] = ["a"]
        live = server_side_apply(None, base, "kubectl", force=False, now=at(T0))
        extra = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "finalizers": ["b"]},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}},
        }
        result = server_side_apply(live, extra, "mesh-injector", force=False, now=at(T1))
        assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == [
            "podinfod",
            "sidecar",
        ]
        assert result["metadata"]["finalizers"] == ["a", "b"]
        assert owned(result, "mesh-injector", "Apply") == {
            '.metadata.finalizers[="b"]',
            '.spec.template.spec.containers[name="sidecar"]',
            '.spec.template.spec.containers[name="sidecar"].name',
            '.spec.template.spec.containers[name="sidecar"].image',
        }

    def test_custom_resource_lists_are_atomic_without_list_type(self) -> None:
        crd = yaml.safe_load_all((DATA / "flagger-crds.yaml").read_text())
        schema = next(iter(crd))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        canary = tutorial.canary()
        created = server_side_apply(None, canary, "kubectl", force=False, openapi_schema=schema, now=at(T0))
        fields = created["metadata"]["managedFields"][0]["fieldsV1"]
        assert fields["f:spec"]["f:analysis"]["f:metrics"] == {}
        assert fields["f:spec"]["f:analysis"]["f:threshold"] == {}
        changed = copy.deepcopy(canary)
        changed["spec"]["analysis"]["metrics"] = changed["spec"]["analysis"]["metrics"][:1]
        with pytest.raises(ApplyConflict) as caught:
            server_side_apply(created, changed, "flagman", force=False, openapi_schema=schema, now=at(T1))
        assert caught.value.message.endswith('conflict with "kubectl": .spec.analysis.metrics')

    def test_custom_resource_list_type_map_from_the_schema(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "gates": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                        }
                    },
                }
            },
        }
        one = {
            "apiVersion": "x.io/v1",
            "kind": "W",
            "metadata": {"name": "w"},
            "spec": {"gates": [{"name": "a"}]},
        }
        two = {
            "apiVersion": "x.io/v1",
            "kind": "W",
            "metadata": {"name": "w"},
            "spec": {"gates": [{"name": "b"}]},
        }
        live = server_side_apply(None, one, "m1", force=False, openapi_schema=schema, now=at(T0))
        result = server_side_apply(live, two, "m2", force=False, openapi_schema=schema, now=at(T1))
        assert result["spec"]["gates"] == [{"name": "a"}, {"name": "b"}]


class TestRecordWrite:
    def test_create_records_an_update_entry_with_container_markers(self) -> None:
        created = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        [entry] = created["metadata"]["managedFields"]
        assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
        }
        fields = entry["fieldsV1"]
        assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
        assert fields["f:spec"]["f:selector"] == {}
        assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"podinfod"}']["."] == {}

    def test_an_update_owns_only_the_values_it_changed(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        patched = copy.deepcopy(live)
        patched["spec"]["replicas"] = 3  # unchanged fields are in the body too, as after a merge patch
        result = record_write(live, patched, "kubectl-patch", "Update", now=at(T1))
        assert owned(result, "kubectl-patch", "Update") == {".spec.replicas"}
        assert ".spec.replicas" not in owned(result, "kubectl-create", "Update")
        assert [(e["manager"], e["time"]) for e in result["metadata"]["managedFields"]] == [
            ("kubectl-create", T0),
            ("kubectl-patch", T1),
        ]

    def test_a_write_that_changes_nothing_adds_no_entry(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        result = record_write(live, copy.deepcopy(live), "kubectl-label", "Update", now=at(T1))
        assert list(entries(result)) == [("kubectl-create", "Update")]

    def test_removed_fields_leave_every_manager(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        changed = copy.deepcopy(live)
        del changed["metadata"]["labels"]
        result = record_write(live, changed, "kubectl-label", "Update", now=at(T1))
        assert not any(p.startswith(".metadata.labels") for p in owned(result, "kubectl-create", "Update"))
        assert ("kubectl-label", "Update") not in entries(result)

    def test_status_subresource_writes_get_their_own_entry(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        with_status = copy.deepcopy(live)
        with_status["status"] = {"observedGeneration": 1, "replicas": 2}
        result = record_write(live, with_status, "flagman", "Update", "status", now=at(T1))
        entry = entries(result)[("flagman", "Update")]
        assert entry["subresource"] == "status"
        assert entry["fieldsV1"] == {"f:status": {".": {}, "f:observedGeneration": {}, "f:replicas": {}}}

    def test_client_supplied_managed_fields_are_the_base_of_the_write(self) -> None:
        # kubectl's CSA -> SSA upgrade: a JSON patch that rewrites managedFields (and nothing else).
        live = record_write(None, deployment(), "kubectl-client-side-apply", "Update", now=at(T0))
        upgraded = copy.deepcopy(live)
        upgraded["metadata"]["managedFields"][0].update(manager="kubectl", operation="Apply")
        result = record_write(live, upgraded, "kubectl", "Update", now=at(T1))
        assert result["metadata"]["managedFields"] == upgraded["metadata"]["managedFields"]
        # the same, with a real change in the same request: recorded on top of the sent entries
        upgraded["spec"]["replicas"] = 9
        result = record_write(live, upgraded, "kubectl-patch", "Update", now=at(T1))
        assert set(entries(result)) == {("kubectl", "Apply"), ("kubectl-patch", "Update")}
        assert ".spec.replicas" not in owned(result, "kubectl", "Apply")

    def test_reset_with_one_empty_entry_and_an_empty_list_changes_nothing(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        cleared = copy.deepcopy(live)
        cleared["metadata"]["managedFields"] = [{}]
        assert "managedFields" not in record_write(live, cleared, "x", "Update", now=at(T1))["metadata"]
        kept = copy.deepcopy(live)
        kept["metadata"]["managedFields"] = []
        assert (
            record_write(live, kept, "x", "Update", now=at(T1))["metadata"]["managedFields"]
            == (live["metadata"]["managedFields"])
        )

    def test_time_moves_only_when_the_write_took_fields(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        same = record_write(live, copy.deepcopy(live), "kubectl-create", "Update", now=at(T1))
        assert same["metadata"]["managedFields"][0]["time"] == T0
        changed = copy.deepcopy(live)
        changed["spec"]["replicas"] = 4
        moved = record_write(live, changed, "kubectl-create", "Update", now=at(T2))
        assert moved["metadata"]["managedFields"][0]["time"] == T2

    def test_record_write_leaves_its_inputs_alone(self) -> None:
        live = record_write(None, deployment(), "kubectl-create", "Update", now=at(T0))
        changed = copy.deepcopy(live)
        changed["spec"]["replicas"] = 4
        before = (copy.deepcopy(live), copy.deepcopy(changed))
        record_write(live, changed, "kubectl-scale", "Update", now=at(T1))
        assert (live, changed) == before

    def test_update_after_apply_then_reapply_conflicts(self) -> None:
        # kubectl apply --server-side, then kubectl set image, then apply of the old file: a conflict.
        live = server_side_apply(None, deployment(), "kubectl", force=False, now=at(T0))
        set_image = copy.deepcopy(live)
        set_image["spec"]["template"]["spec"]["containers"][0]["image"] = "podinfo:3.1.1"
        live = record_write(live, set_image, "kubectl-set", "Update", now=at(T1))
        with pytest.raises(ApiError) as caught:
            server_side_apply(live, deployment(), "kubectl", force=False, now=at(T2))
        assert caught.value.code == 409
        assert '.spec.template.spec.containers[name="podinfod"].image' in caught.value.message


class TestFieldsV1:
    def test_round_trip(self) -> None:
        assert fields_v1(parse_fields_v1(APPLIED_DEPLOYMENT_FIELDS)) == APPLIED_DEPLOYMENT_FIELDS

    def test_member_with_children_gets_a_dot(self) -> None:
        paths = {("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app")}
        assert fields_v1(paths) == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}

    def test_malformed_input_is_ignored(self) -> None:
        assert parse_fields_v1("nonsense") == set()
        assert parse_fields_v1({"f:a": "x"}) == {("f:a",)}

    def test_an_unchanged_manager_keeps_its_stored_tree_and_a_changed_one_is_encoded(self) -> None:
        """Writes re-encode only what changed: a Canary status write leaves the other managers' trees as
        stored (the same objects: stored trees are never changed in place)."""
        live = record_write(None, deployment(), "kubectl", "Update", now=at(T0))
        live = record_write(live, {**live, "status": {"replicas": 1}}, "ctl", "Update", "status", now=at(T1))
        before = entries(live)
        later = record_write(live, {**live, "status": {"replicas": 2}}, "ctl", "Update", "status", now=at(T2))
        after = entries(later)
        assert after[("kubectl", "Update")]["fieldsV1"] is before[("kubectl", "Update")]["fieldsV1"]
        assert after[("ctl", "Update")]["fieldsV1"] is before[("ctl", "Update")]["fieldsV1"]  # same fields
        assert after[("ctl", "Update")]["time"] == T2
        grown = record_write(
            later, {**later, "status": {"replicas": 2, "ready": 1}}, "ctl", "Update", "status"
        )
        assert entries(grown)[("ctl", "Update")]["fieldsV1"] == {
            "f:status": {".": {}, "f:ready": {}, "f:replicas": {}}
        }

    @pytest.mark.parametrize(
        "stored",
        [
            {"f:spec": {"f:b": {}, "f:a": {}}},  # keys out of order
            {"f:spec": {".": {}}},  # a member marked with "." but without children
            {"f:spec": {"f:a": None}},  # a leaf that is not {}
            {".": {}, "f:spec": {}},  # the root marked
        ],
    )
    def test_a_tree_that_is_not_canonical_is_encoded_again(self, stored: dict[str, Any]) -> None:
        """As before: a tree a client stored (kubectl's managedFields migration) becomes canonical on the
        next write even when that write takes none of its fields."""
        live = {**deployment(), "metadata": {**deployment()["metadata"], "managedFields": [
            {"manager": "old", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
             "fieldsType": "FieldsV1", "fieldsV1": stored},
        ]}}  # fmt: skip
        written = record_write(
            live, {**live, "status": {"replicas": 1}}, "ctl", "Update", "status", now=at(T1)
        )
        old = entries(written)[("old", "Update")]["fieldsV1"]
        assert old == fields_v1(parse_fields_v1(stored))
        assert old is not stored

    @pytest.mark.parametrize(
        ("path", "text"),
        [
            (("f:spec", "f:replicas"), ".spec.replicas"),
            (("f:spec", 'k:{"port":80,"protocol":"TCP"}', "f:name"), '.spec[port=80,protocol="TCP"].name'),
            (("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]'),
            (("f:items", "i:3"), ".items[3]"),
        ],
    )
    def test_path_strings(self, path: tuple[str, ...], text: str) -> None:
        assert path_string(path) == text


def test_reapply_keeps_containers_an_entry_marks_with_a_dot() -> None:
    """kubectl's client-side -> server-side migration writes entries with "." on containers (``f:spec``).
    Re-applying the same configuration must not remove those containers: the conformance replay caught the
    emulator answering 422 ``spec.selector: Invalid value: null`` there, where kube-apiserver answers 200."""
    live = server_side_apply(None, deployment(), "kubectl", False, now=at(T0))
    entry = live["metadata"]["managedFields"][0]
    entry["fieldsV1"]["f:spec"]["."] = {}
    entry["fieldsV1"]["f:spec"]["f:template"]["."] = {}
    again = server_side_apply(live, deployment(), "kubectl", False, now=at(T1))
    assert again["spec"]["selector"] == {"matchLabels": {"app": "podinfo"}}
    assert again["spec"]["template"]["spec"]["containers"][0]["name"] == "podinfod"


def test_reapply_keeps_a_port_an_old_entry_keys_by_container_port_alone() -> None:
    """kubectl's migrated entry names ``k:{"containerPort":9898}``; the apply sets the port under
    ``k:{"containerPort":9898,"protocol":"TCP"}``. kube-apiserver keeps the port (replay of kubectl's
    client-side -> server-side apply); the emulator removed it."""
    live = server_side_apply(None, deployment(), "kubectl", False, now=at(T0))
    containers = live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"][
        "f:containers"
    ]
    ports = containers['k:{"name":"podinfod"}']["f:ports"]
    ports['k:{"containerPort":9898}'] = {".": {}, "f:containerPort": {}}
    again = server_side_apply(live, deployment(), "kubectl", False, now=at(T1))
    assert again["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 9898, "protocol": "TCP"}
    ]
