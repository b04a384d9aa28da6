"""Merge patch, JSON patch and strategic merge patch, compared with what kube-apiserver produces."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.apiserver import builtin_schema
from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.patches import (
    PatchShape,
    json_patch,
    merge_patch,
    strategic_merge,
    strategic_merge_patch,
)

DATA = Path(__file__).parent / "data" / "libs"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"app": "podinfo", "tier": "web"},
            "annotations": {"a": "1"},
            "finalizers": ["example.com/keep"],
            "resourceVersion": "7",
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": "stefanprodan/podinfo:3.1.0",
                            "ports": [{"containerPort": 9898, "name": "http"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "args": ["--port", "9898"],
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "cfg"}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


# ------------------------------------------------------------------------------------------ merge patch


class TestMergePatch:
    def test_maps_merge_and_null_deletes(self) -> None:
        live = deployment()
        result = merge_patch(
            live, {"metadata": {"labels": {"tier": None, "new": "x"}}, "spec": {"replicas": 3}}
        )
        assert result["metadata"]["labels"] == {"app": "podinfo", "new": "x"}
        assert result["spec"]["replicas"] == 3
        assert result["spec"]["selector"] == {"matchLabels": {"app": "podinfo"}}

    def test_lists_are_replaced_whole(self) -> None:
        result = merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}})
        assert containers(result) == [{"name": "x"}]

    def test_inputs_are_untouched(self) -> None:
        live, patch = deployment(), {"metadata": {"labels": {"app": None}}, "spec": {"extra": {"a": 1}}}
        before_live, before_patch = copy.deepcopy(live), copy.deepcopy(patch)
        result = merge_patch(live, patch)
        result["spec"]["extra"]["a"] = 2
        assert live == before_live
        assert patch == before_patch

    def test_null_for_missing_key_is_a_no_op_and_nested_nulls_are_dropped(self) -> None:
        result = merge_patch({"a": 1}, {"b": None, "c": {"d": None, "e": 1}})
        assert result == {"a": 1, "c": {"e": 1}}

    def test_scalar_replaced_by_map(self) -> None:
        assert merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}

    @pytest.mark.parametrize(("body", "kind"), [([{"op": "add"}], "array"), ("x", "string"), (None, "null")])
    def test_non_object_patch_is_a_400(self, body: Any, kind: str) -> None:
        with pytest.raises(ApiError) as caught:
            merge_patch({"a": 1}, body)
        assert caught.value.code == 400
        assert caught.value.reason == "BadRequest"
        assert kind in caught.value.message

    def test_rfc7386_appendix_a(self) -> None:
        # The examples table of RFC 7386, appendix A (object-shaped targets and patches).
        cases = [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ]
        for target, patch, expected in cases:
            assert merge_patch(target, patch) == expected


# ------------------------------------------------------------------------------------------- JSON patch


class TestJsonPatch:
    def test_all_six_operations(self) -> None:
        ops = [
            {"op": "add", "path": "/metadata/labels/new", "value": "x"},
            {"op": "remove", "path": "/metadata/labels/tier"},
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations/copied"},
            {"op": "move", "from": "/metadata/annotations/a", "path": "/metadata/annotations/b"},
            {"op": "test", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "third"}},
            {"op": "add", "path": "/spec/template/spec/containers/0/env/0", "value": {"name": "Z"}},
        ]
        result = json_patch(deployment(), ops)
        assert result["metadata"]["labels"] == {"app": "podinfo", "new": "x"}
        assert result["metadata"]["annotations"] == {"copied": "podinfo", "b": "1"}
        assert result["spec"]["replicas"] == 5
        assert [c["name"] for c in containers(result)] == ["podinfod", "sidecar", "third"]
        assert [e["name"] for e in containers(result)[0]["env"]] == ["Z", "A", "B"]

    def test_resource_version_precondition_passes_when_current(self) -> None:
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "replace", "path": "/metadata/labels/app", "value": "other"},
        ]
        assert json_patch(deployment(), ops)["metadata"]["labels"]["app"] == "other"

    def test_failed_test_is_422_naming_the_operation_and_changes_nothing(self) -> None:
        live = deployment()
        before = copy.deepcopy(live)
        ops = [
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/metadata/resourceVersion", "value": "6"},
        ]
        with pytest.raises(ApiError) as caught:
            json_patch(live, ops)
        status = caught.value.to_status()
        assert status["code"] == 422
        assert status["reason"] == "Invalid"
        assert status["message"] == "the server rejected our request due to an error in our request"
        cause = status["details"]["causes"][0]["message"]
        assert "test operation at index 1" in cause
        assert "/metadata/resourceVersion" in cause
        assert live == before

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "remove", "path": "/metadata/labels/missing"},
            {"op": "replace", "path": "/spec/missing", "value": 1},
            {"op": "add", "path": "/spec/no/such/parent", "value": 1},
            {"op": "move", "from": "/spec/missing", "path": "/spec/x"},
            {"op": "copy", "from": "/spec/missing", "path": "/spec/x"},
            {"op": "remove", "path": "/spec/template/spec/containers/7"},
            {"op": "add", "path": "/spec/template/spec/containers/9", "value": {}},
        ],
    )
    def test_operations_on_missing_paths_are_422(self, operation: dict[str, Any]) -> None:
        with pytest.raises(ApiError) as caught:
            json_patch(deployment(), [operation])
        assert caught.value.code == 422
        assert caught.value.details is not None
        assert operation["op"] in caught.value.details["causes"][0]["message"]

    @pytest.mark.parametrize("body", [{"op": "add"}, "x", 3, None])
    def test_body_that_is_not_a_list_is_400(self, body: Any) -> None:
        with pytest.raises(ApiError) as caught:
            json_patch(deployment(), body)
        assert caught.value.code == 400
        assert "jsonpatch.Patch" in caught.value.message

    @pytest.mark.parametrize(
        ("operation", "fragment"),
        [
            ({"op": "frobnicate", "path": "/a"}, "unexpected kind: frobnicate"),
            ({"op": "add", "path": "/a"}, "missing value"),
            ({"op": "move", "path": "/a"}, "missing from"),
            ({"op": "add", "path": "a", "value": 1}, "JSON pointer"),
        ],
    )
    def test_malformed_operations_are_rejected(self, operation: dict[str, Any], fragment: str) -> None:
        with pytest.raises(ApiError) as caught:
            json_patch(deployment(), [operation])
        assert caught.value.code == 422
        assert caught.value.details is not None
        assert fragment in caught.value.details["causes"][0]["message"]

    def test_operation_that_is_not_an_object_is_400(self) -> None:
        with pytest.raises(ApiError) as caught:
            json_patch(deployment(), ["add"])
        assert caught.value.code == 400

    def test_replacing_the_root_with_a_non_object_is_refused(self) -> None:
        with pytest.raises(ApiError) as caught:
            json_patch(deployment(), [{"op": "replace", "path": "", "value": [1]}])
        assert caught.value.code == 422

    def test_managed_fields_replacement_as_kubectl_does_for_the_csa_to_ssa_upgrade(self) -> None:
        live = deployment()
        live["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update"}]
        ops = [
            {"op": "replace", "path": "/metadata/managedFields", "value": [{"manager": "kubectl"}]},
            {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"},
        ]
        assert json_patch(live, ops)["metadata"]["managedFields"] == [{"manager": "kubectl"}]


# -------------------------------------------------------------------------------- strategic merge patch


def smp(
    live: dict[str, Any], patch: Any, api_version: str = "apps/v1", kind: str = "Deployment"
) -> dict[str, Any]:
    return strategic_merge_patch(live, patch, api_version, kind)


class TestStrategicMergePatch:
    def test_kubectl_set_image_changes_only_that_container(self) -> None:
        # The exact body kubectl 1.31 sends for `set image deployment/podinfo podinfod=...:3.1.1`.
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "podinfod"}, {"name": "sidecar"}],
                        "containers": [{"image": "stefanprodan/podinfo:3.1.1", "name": "podinfod"}],
                    }
                }
            }
        }
        live = deployment()
        result = smp(live, patch)
        expected = deployment()
        containers(expected)[0]["image"] = "stefanprodan/podinfo:3.1.1"
        assert result == expected
        assert containers(live)[0]["image"] == "stefanprodan/podinfo:3.1.0"

    def test_containers_merge_by_name_and_new_ones_are_appended(self) -> None:
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": "sidecar", "args": ["x"]}, {"name": "new"}]}}
            }
        }
        result = containers(smp(deployment(), patch))
        assert [c["name"] for c in result] == ["podinfod", "sidecar", "new"]
        assert result[1] == {"name": "sidecar", "image": "busybox", "args": ["x"]}

    def test_nested_env_and_ports_merge_by_their_keys(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "podinfod",
                                "env": [{"name": "B", "value": "changed"}, {"name": "C", "value": "3"}],
                                "ports": [{"containerPort": 9999}],
                            }
                        ]
                    }
                }
            }
        }
        container = containers(smp(deployment(), patch))[0]
        assert container["env"] == [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "changed"},
            {"name": "C", "value": "3"},
        ]
        assert container["ports"] == [{"containerPort": 9898, "name": "http"}, {"containerPort": 9999}]
        assert container["args"] == ["--port", "9898"]

    def test_lists_without_strategy_are_replaced(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "tolerations": [{"key": "b"}],
                        "containers": [{"name": "podinfod", "args": ["--x"]}],
                    }
                }
            }
        }
        result = smp(deployment(), patch)
        assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "b"}]
        assert containers(result)[0]["args"] == ["--x"]

    def test_labels_and_annotations_merge_and_null_deletes(self) -> None:
        patch = {"metadata": {"labels": {"tier": None, "x": "y"}, "annotations": {"b": "2"}}}
        result = smp(deployment(), patch)
        assert result["metadata"]["labels"] == {"app": "podinfo", "x": "y"}
        assert result["metadata"]["annotations"] == {"a": "1", "b": "2"}

    def test_finalizers_merge_as_a_set_and_delete_from_primitive_list(self) -> None:
        result = smp(deployment(), {"metadata": {"finalizers": ["b", "example.com/keep"]}})
        assert result["metadata"]["finalizers"] == ["example.com/keep", "b"]
        result = smp(result, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/keep"]}})
        assert result["metadata"]["finalizers"] == ["b"]

    def test_patch_delete_removes_a_list_element_by_merge_key(self) -> None:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
        assert [c["name"] for c in containers(smp(deployment(), patch))] == ["podinfod"]

    def test_patch_replace_in_a_list_replaces_the_whole_list(self) -> None:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "only"}, {"$patch": "replace"}]}}}}
        assert containers(smp(deployment(), patch)) == [{"name": "only"}]

    def test_patch_replace_and_delete_on_maps(self) -> None:
        result = smp(deployment(), {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})
        assert result["spec"]["strategy"] == {"type": "Recreate"}
        result = smp(deployment(), {"spec": {"selector": {"$patch": "delete"}}})
        assert result["spec"]["selector"] == {}

    def test_retain_keys_clears_the_other_union_members(self) -> None:
        # kubectl apply switching the strategy to Recreate sends $retainKeys for deployment.spec.strategy.
        patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
        assert smp(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}

    def test_retain_keys_must_name_every_patched_key(self) -> None:
        patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}}
        with pytest.raises(ApiError) as caught:
            smp(deployment(), patch)
        assert (caught.value.code, caught.value.message) == (400, "invalid patch format of retainKeys")
        # nulls are allowed outside the list: they delete
        patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
        assert smp(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}

    def test_volumes_use_retain_keys_strategy_and_merge_by_name(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {
                                "name": "config",
                                "$retainKeys": ["name", "secret"],
                                "secret": {"secretName": "s"},
                            }
                        ]
                    }
                }
            }
        }
        volumes = smp(deployment(), patch)["spec"]["template"]["spec"]["volumes"]
        assert volumes == [{"name": "config", "secret": {"secretName": "s"}}]

    def test_set_element_order_reorders_and_keeps_server_only_items_in_place(self) -> None:
        live = deployment()
        containers(live).insert(0, {"name": "init-like"})
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "podinfod"}],
                        "containers": [{"name": "sidecar", "image": "b2"}],
                    }
                }
            }
        }
        assert [c["name"] for c in containers(smp(live, patch))] == ["init-like", "sidecar", "podinfod"]

    def test_set_element_order_must_agree_with_the_patch_list(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "podinfod"}],
                        "containers": [{"name": "other"}],
                    }
                }
            }
        }
        with pytest.raises(ApiError) as caught:
            smp(deployment(), patch)
        assert caught.value.code == 400
        assert "$setElementOrder" in caught.value.message

    def test_kubectl_rollout_restart_patch(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}
                }
            }
        }
        result = smp(deployment(), patch)
        assert result["spec"]["template"]["metadata"] == {
            "labels": {"app": "podinfo"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
        }

    def test_service_ports_merge_by_port(self) -> None:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "podinfo"},
            "spec": {
                "selector": {"app": "podinfo"},
                "ports": [
                    {"port": 9898, "targetPort": "http", "name": "http"},
                    {"port": 9797, "name": "grpc"},
                ],
            },
        }
        patch = {"spec": {"ports": [{"port": 9797, "targetPort": 9999}, {"port": 80}]}}
        result = smp(service, patch, "v1", "Service")
        assert result["spec"]["ports"] == [
            {"port": 9898, "targetPort": "http", "name": "http"},
            {"port": 9797, "name": "grpc", "targetPort": 9999},
            {"port": 80},
        ]

    def test_conditions_merge_by_type_in_deployment_status(self) -> None:
        live = deployment()
        live["status"] = {
            "conditions": [
                {"type": "Available", "status": "False"},
                {"type": "Progressing", "status": "True"},
            ]
        }
        result = smp(live, {"status": {"conditions": [{"type": "Available", "status": "True"}]}})
        assert result["status"]["conditions"] == [
            {"type": "Available", "status": "True"},
            {"type": "Progressing", "status": "True"},
        ]

    def test_owner_references_merge_by_uid(self) -> None:
        live = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "ownerReferences": [{"uid": "1", "name": "a"}]},
        }
        result = smp(live, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}, "v1", "ConfigMap")
        assert [r["uid"] for r in result["metadata"]["ownerReferences"]] == ["1", "2"]

    def test_configmap_data_merges_as_a_map(self) -> None:
        live = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"a": "1", "b": "2"},
        }
        result = smp(live, {"data": {"a": None, "c": "3"}}, "v1", "ConfigMap")
        assert result["data"] == {"b": "2", "c": "3"}

    def test_hpa_v2beta2_is_served_as_v2(self) -> None:
        live = {
            "apiVersion": "autoscaling/v2beta2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"maxReplicas": 4, "metrics": [{"type": "Resource"}]},
        }
        result = smp(live, {"spec": {"maxReplicas": 5}}, "autoscaling/v2beta2", "HorizontalPodAutoscaler")
        assert result["spec"] == {"maxReplicas": 5, "metrics": [{"type": "Resource"}]}

    def test_unmatched_nulls_are_discarded_and_directives_never_stored(self) -> None:
        patch = {
            "spec": {
                "newField": {"x": None, "y": 1},
                "template": {"spec": {"containers": [{"name": "n", "image": None}]}},
            }
        }
        result = smp(deployment(), patch)
        assert result["spec"]["newField"] == {"y": 1}
        assert containers(result)[-1] == {"name": "n"}

    def test_type_change_replaces_the_value(self) -> None:
        assert smp(deployment(), {"spec": {"strategy": "odd"}})["spec"]["strategy"] == "odd"

    def test_inputs_are_untouched(self) -> None:
        live = deployment()
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
        before_live, before_patch = copy.deepcopy(live), copy.deepcopy(patch)
        smp(live, patch)
        assert (live, patch) == (before_live, before_patch)

    def test_custom_resources_get_415_like_kube_apiserver(self) -> None:
        with pytest.raises(ApiError) as caught:
            smp({"spec": {}}, {"spec": {"x": 1}}, "flagger.app/v1beta1", "Canary")
        status = caught.value.to_status()
        assert status["code"] == 415
        assert status["reason"] == "UnsupportedMediaType"
        assert status["message"] == (
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
        assert "flagger.app/v1beta1, Kind=Canary" in status["details"]["causes"][0]["message"]

    @pytest.mark.parametrize(
        ("patch", "fragment"),
        [
            ({"spec": {"$patch": "frob"}}, "unknown patch type: frob"),
            (
                {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
                "does not contain declared merge key: name",
            ),
            ({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}, "merge key"),
            (
                {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}}},
                "cannot yet",
            ),
            ({"spec": {"template": {"spec": {"containers": ["podinfod"]}}}}, "merged by name"),
            ({"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}}, "expected a list"),
            ({"spec": {"strategy": {"$retainKeys": "type"}}}, "invalid patch format of retainKeys"),
        ],
    )
    def test_malformed_patches_are_400(self, patch: dict[str, Any], fragment: str) -> None:
        with pytest.raises(ApiError) as caught:
            smp(deployment(), patch)
        assert caught.value.code == 400
        assert fragment in caught.value.message

    def test_non_object_patch_is_400(self) -> None:
        with pytest.raises(ApiError) as caught:
            smp(deployment(), [{"op": "add"}])
        assert caught.value.code == 400


def test_builtin_schema_matches_the_upstream_openapi_definitions() -> None:
    spec = importlib.util.spec_from_file_location("derive_builtin_schema", DATA / "derive_builtin_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["derive_builtin_schema"] = module
    spec.loader.exec_module(module)
    kinds, types = module.derive()
    assert kinds == builtin_schema.KIND_TYPES
    assert types == builtin_schema.FIELDS
    for kind in ("apps/v1/Deployment", "v1/Service", "v1/Pod", "batch/v1/Job", "v1/ConfigMap", "v1/Secret"):
        assert kind in builtin_schema.KIND_TYPES


# apimachinery's test type `mergeItem` (pkg/util/strategicpatch/testdata), as a type table.
MERGE_ITEM_TYPES: dict[str, dict[str, tuple[str, str, str, tuple[str, ...], str, str, str]]] = {
    "mergeItem": {
        "mergingList": ("list", "mergeItem", "", (), "merge", "name", ""),
        "nonMergingList": ("list", "mergeItem", "", (), "", "", ""),
        "mergingIntList": ("list", "", "", (), "merge", "", ""),
        "mergeItemPtr": ("object", "mergeItem", "", (), "merge", "name", ""),
        "replacingItem": ("object", "", "", (), "replace", "", ""),
        "retainKeysMap": ("object", "retainKeysMergeItem", "", (), "retainKeys", "", ""),
        "retainKeysMergingList": ("list", "mergeItem", "", (), "merge,retainKeys", "name", ""),
    },
    "retainKeysMergeItem": {
        "mergingIntList": ("list", "", "", (), "merge", "", ""),
        "mergingList": ("list", "mergeItem", "", (), "merge", "name", ""),
    },
}
UPSTREAM_CASES = yaml.safe_load((DATA / "smp-upstream-cases.yaml").read_text())


@pytest.mark.parametrize("case", UPSTREAM_CASES, ids=[c["description"] for c in UPSTREAM_CASES])
@pytest.mark.parametrize(
    ("base", "patch", "expected"), [("original", "twoWay", "modified"), ("current", "threeWay", "result")]
)
def test_apimachinery_fixture(case: dict[str, Any], base: str, patch: str, expected: str) -> None:
    shape = PatchShape("mergeItem", MERGE_ITEM_TYPES)
    assert strategic_merge(case[base], case[patch], shape) == case[expected]


def test_replace_strategy_replaces_a_map() -> None:
    shape = PatchShape("mergeItem", MERGE_ITEM_TYPES)
    result = strategic_merge({"replacingItem": {"a": 1, "b": 2}}, {"replacingItem": {"c": 3}}, shape)
    assert result == {"replacingItem": {"c": 3}}


def test_primitive_merge_keeps_apimachinerys_deduplication_order() -> None:
    # deduplicateScalars moves the last item into a duplicate's slot
    shape = PatchShape("mergeItem", MERGE_ITEM_TYPES)
    result = strategic_merge({"mergingIntList": [1, 2]}, {"mergingIntList": [2, 3, 4]}, shape)
    assert result == {"mergingIntList": [1, 2, 4, 3]}


def test_kubectl_client_side_apply_patch_on_a_live_deployment() -> None:
    """The SMP kubectl 1.31 computed for `apply -f kubectl-apply-deployment-v2.yaml` (captured from the
    real binary against a loopback recorder that served the live object)."""
    live = json.loads((DATA / "kubectl-apply-live-deployment.json").read_text())
    patch = json.loads((DATA / "kubectl-1.31-apply-deployment.smp.json").read_text())
    desired = yaml.safe_load((DATA / "kubectl-apply-deployment-v2.yaml").read_text())
    result = strategic_merge_patch(live, patch, "apps/v1", "Deployment")

    assert result["spec"]["replicas"] == 3
    assert result["spec"]["strategy"] == {"type": "Recreate"}  # $retainKeys dropped rollingUpdate
    assert result["metadata"]["labels"] == {"app": "podinfo"}
    assert result["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert json.loads(
        result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    ) == {
        **desired,
        "metadata": {**desired["metadata"], "annotations": {}},
    }
    # sidecar deleted, the injected istio-proxy (not in last-applied) kept
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["podinfod", "istio-proxy"]
    podinfod = containers[0]
    assert podinfod["image"] == "stefanprodan/podinfo:3.1.1"
    assert podinfod["imagePullPolicy"] == "IfNotPresent"  # server-side field untouched
    assert podinfod["volumeMounts"] == [{"mountPath": "/etc/podinfo", "name": "config"}]
    # B deleted, C added; INJECTED kept where apimachinery's in-place merge leaves it
    assert podinfod["env"] == [
        {"name": "A", "value": "1"},
        {"name": "INJECTED", "value": "by-webhook"},
        {"name": "C", "value": "3"},
    ]
    assert result["spec"]["template"]["spec"]["volumes"] == [
        {"configMap": {"name": "podinfo-config"}, "name": "config"}
    ]
    assert result["spec"]["revisionHistoryLimit"] == 10
    assert result["status"] == {"replicas": 2}
