"""CRD structural schemas: defaults, pruning and validation messages, on Flagger's own CRDs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.apiserver.schema import FieldError, StructuralSchema, invalid, strict_decoding_error
from tests.data import tutorial

DATA = Path(__file__).parent / "data" / "libs"


def crd_schemas() -> dict[str, StructuralSchema]:
    documents = list(yaml.safe_load_all((DATA / "flagger-crds.yaml").read_text()))
    return {
        doc["spec"]["names"]["kind"]: StructuralSchema(
            doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        )
        for doc in documents
    }


SCHEMAS = crd_schemas()
CANARY = SCHEMAS["Canary"]


def admit(schema: StructuralSchema, obj: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """What kube-apiserver does on create: prune, default, validate."""
    result = schema.apply_defaults(schema.prune(obj))
    return result, schema.validate(result)


def messages(errors: list[FieldError]) -> list[str]:
    return [str(e) for e in errors]


class TestTutorialCanary:
    def test_is_valid_and_unchanged(self) -> None:
        canary = tutorial.canary()
        result, errors = admit(CANARY, canary)
        assert errors == []
        assert result == canary

    def test_threshold_of_wrong_type_is_rejected_naming_the_field(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["threshold"] = "two"
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            'spec.analysis.threshold: Invalid value: "string": '
            'spec.analysis.threshold in body must be of type number: "string"'
        ]
        status = invalid("Canary", "podinfo", errors, "flagger.app").to_status()
        assert status["code"] == 422
        assert status["reason"] == "Invalid"
        assert status["message"] == (
            'Canary.flagger.app "podinfo" is invalid: spec.analysis.threshold: Invalid value: "string": '
            'spec.analysis.threshold in body must be of type number: "string"'
        )
        assert status["details"] == {
            "name": "podinfo",
            "group": "flagger.app",
            "kind": "Canary",
            "causes": [
                {
                    "reason": "FieldValueTypeInvalid",
                    "message": 'Invalid value: "string": spec.analysis.threshold in body '
                    'must be of type number: "string"',
                    "field": "spec.analysis.threshold",
                }
            ],
        }

    def test_several_errors_are_listed_in_brackets(self) -> None:
        canary = tutorial.canary()
        del canary["spec"]["targetRef"]["name"]
        canary["spec"]["provider"] = "kubernets"
        canary["spec"]["analysis"]["interval"] = "half a minute"
        _, errors = admit(CANARY, canary)
        status = invalid("Canary", "podinfo", errors, "flagger.app").to_status()
        assert status["message"].startswith('Canary.flagger.app "podinfo" is invalid: [')
        assert (
            'spec.provider: Unsupported value: "kubernets": supported values: "apisix", "appmesh"'
            in status["message"]
        )
        assert "spec.targetRef.name: Required value" in status["message"]
        assert (
            'spec.analysis.interval: Invalid value: "half a minute": spec.analysis.interval in body '
            "should match '^[0-9]+(m|s)'" in status["message"]
        )
        reasons = {c["field"]: c["reason"] for c in status["details"]["causes"]}
        assert reasons == {
            "spec.provider": "FieldValueNotSupported",
            "spec.targetRef.name": "FieldValueRequired",
            "spec.analysis.interval": "FieldValueInvalid",
        }

    def test_skipped_top_level_fields_are_taken_as_admitted(self) -> None:
        """A status write shares the stored spec: it is neither reported, defaulted, pruned nor validated
        again (nor copied), while the rest of the object is, and a skipped field still counts as present."""
        canary = tutorial.canary()
        canary["spec"]["analysis"]["threshold"] = "many"  # invalid, but as stored before the CRD changed
        canary["spec"]["bogus"] = 1
        canary["status"] = {"phase": "Initialized", "bogus": 1, "failedChecks": "x"}
        skip = frozenset({"spec"})
        assert CANARY.unknown_fields(canary, skip) == ["status.bogus"]
        admitted = CANARY.default_and_prune(canary, skip)
        assert admitted["spec"] is canary["spec"]
        assert admitted["status"] == {"phase": "Initialized", "failedChecks": "x"}
        assert messages(CANARY.validate(admitted, skip)) == [
            'status.failedChecks: Invalid value: "string": status.failedChecks in body must be of type '
            'number: "string"'
        ]
        assert [e.path for e in CANARY.validate(admitted)] == [
            "spec.analysis.threshold",
            "status.failedChecks",
        ]
        required = StructuralSchema({"type": "object", "required": ["spec"], "properties": {"spec": {}}})
        assert required.validate({"spec": 1}, frozenset({"spec"})) == []

    def test_unknown_fields_are_pruned_and_reported(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysys"] = {"interval": "1m"}
        canary["spec"]["service"]["prot"] = 80
        canary["spec"]["analysis"]["metrics"][0]["tresholdRange"] = {"min": 1}
        canary["status"] = {"phase": "Initialized", "bogus": 1}
        assert CANARY.unknown_fields(canary) == [
            "spec.service.prot",
            "spec.analysis.metrics[0].tresholdRange",
            "spec.analysys",
            "status.bogus",
        ]
        before = copy.deepcopy(canary)
        result, errors = admit(CANARY, canary)
        assert canary == before  # reporting and admission work on copies
        assert errors == []
        assert result == {**tutorial.canary(), "status": {"phase": "Initialized"}}
        unknown: list[str] = []
        assert CANARY.default_and_prune(canary, unknown=unknown) == CANARY.prune(
            CANARY.apply_defaults(canary)
        )
        assert unknown == CANARY.unknown_fields(canary)
        error = strict_decoding_error("Canary", "v1beta1", CANARY.unknown_fields(canary)[:2])
        assert error.code == 400
        assert error.message == (
            'Canary in version "v1beta1" cannot be handled as a Canary: strict decoding error: '
            'unknown field "spec.service.prot", unknown field "spec.analysis.metrics[0].tresholdRange"'
        )

    def test_metadata_apiversion_and_kind_are_never_pruned(self) -> None:
        canary = tutorial.canary()
        canary["metadata"].update(
            labels={"a": "b"}, annotations={"x": "y"}, finalizers=["f"], uid="u", resourceVersion="3"
        )
        result, errors = admit(CANARY, canary)
        assert errors == []
        assert result["metadata"] == canary["metadata"]
        assert (result["apiVersion"], result["kind"]) == ("flagger.app/v1beta1", "Canary")


class TestDefaults:
    def test_session_affinity_max_age_and_gateway_ref_defaults(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "flagger-cookie"}
        canary["spec"]["service"]["gatewayRefs"] = [{"name": "gw"}, {"name": "other", "kind": "Custom"}]
        result, errors = admit(CANARY, canary)
        assert errors == []
        assert result["spec"]["analysis"]["sessionAffinity"] == {
            "cookieName": "flagger-cookie",
            "maxAge": 86400,
        }
        assert result["spec"]["service"]["gatewayRefs"] == [
            {"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"},
            {"name": "other", "kind": "Custom", "group": "gateway.networking.k8s.io"},
        ]

    def test_defaults_inside_list_items_and_nested_objects(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["service"]["mirror"] = [{"backendRef": {"name": "podinfo-mirror", "port": 9898}}]
        result, errors = admit(CANARY, canary)
        assert errors == []
        assert result["spec"]["service"]["mirror"][0]["backendRef"] == {
            "name": "podinfo-mirror",
            "port": 9898,
            "group": "",
            "kind": "Service",
        }

    def test_an_absent_parent_gets_no_defaults_and_explicit_values_win(self) -> None:
        canary = tutorial.canary()
        result = CANARY.apply_defaults(canary)
        assert "sessionAffinity" not in result["spec"]["analysis"]
        canary["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "c", "maxAge": 5}
        assert CANARY.apply_defaults(canary)["spec"]["analysis"]["sessionAffinity"]["maxAge"] == 5

    def test_null_non_nullable_field_gets_its_default_or_is_pruned(self) -> None:
        schema = StructuralSchema(
            {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "interval": {"type": "string", "default": "60s"},
                            "other": {"type": "string"},
                            "maybe": {"type": "string", "nullable": True},
                        },
                    }
                },
            }
        )
        obj = {"spec": {"interval": None, "other": None, "maybe": None}}
        assert schema.apply_defaults(obj) == {"spec": {"interval": "60s", "other": None, "maybe": None}}
        assert schema.prune(schema.apply_defaults(obj)) == {"spec": {"interval": "60s", "maybe": None}}
        assert schema.validate({"spec": {"maybe": None}}) == []

    def test_project_style_defaults_for_interval_and_progress_deadline(self) -> None:
        # Upstream Flagger applies these in code; a CRD that declares them gets them from the server.
        schema = copy.deepcopy(CANARY.root)
        spec = schema["properties"]["spec"]
        spec["properties"]["progressDeadlineSeconds"]["default"] = 600
        spec["properties"]["analysis"]["properties"]["interval"]["default"] = "60s"
        canary = tutorial.canary()
        del canary["spec"]["progressDeadlineSeconds"]
        del canary["spec"]["analysis"]["interval"]
        result, errors = admit(StructuralSchema(schema), canary)
        assert errors == []
        assert result["spec"]["progressDeadlineSeconds"] == 600
        assert result["spec"]["analysis"]["interval"] == "60s"

    def test_inputs_are_untouched(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "c"}
        canary["spec"]["bogus"] = 1
        before = copy.deepcopy(canary)
        CANARY.apply_defaults(canary)
        CANARY.prune(canary)
        CANARY.validate(canary)
        assert canary == before


class TestValidation:
    def test_analysis_one_of_reports_none_valid_and_the_closest_alternative(self) -> None:
        canary = tutorial.canary()
        del canary["spec"]["analysis"]["iterations"]
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            '<nil>: Invalid value: "": "spec.analysis" must validate one and only one schema (oneOf). '
            "Found none valid",
            "spec.analysis.iterations: Required value",
        ]

    def test_analysis_one_of_with_two_alternatives(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["stepWeight"] = 10
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            '<nil>: Invalid value: "": "spec.analysis" must validate one and only one schema (oneOf). '
            "Found 2 valid alternatives"
        ]

    def test_alert_provider_one_of(self) -> None:
        provider = {"apiVersion": "flagger.app/v1beta1", "kind": "AlertProvider", "metadata": {"name": "s"}}
        assert (
            SCHEMAS["AlertProvider"].validate({**provider, "spec": {"type": "slack", "address": "http://x"}})
            == []
        )
        errors = SCHEMAS["AlertProvider"].validate({**provider, "spec": {"type": "slack"}})
        assert "Found none valid" in messages(errors)[0]

    def test_match_uri_one_of_with_not_any_of(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["service"]["match"] = [{"uri": {"prefix": "/api"}}, {"uri": {}}]
        assert admit(CANARY, canary)[1] == []
        canary["spec"]["service"]["match"] = [{"uri": {"prefix": "/api", "exact": "/x"}}]
        errors = admit(CANARY, canary)[1]
        assert messages(errors)[0].startswith(
            '<nil>: Invalid value: "": "spec.service.match[0].uri" must validate'
        )

    def test_required_in_list_items_uses_indexes(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["webhooks"].append({"name": "no-url"})
        canary["spec"]["analysis"]["metrics"].append({"interval": "1m"})
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            "spec.analysis.metrics[2].name: Required value",
            "spec.analysis.webhooks[2].url: Required value",
        ]

    def test_enum_minimum_max_items_and_pattern(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["targetRef"]["kind"] = "StatefulSet"
        canary["spec"]["autoscalerRef"]["primaryScalerReplicas"] = {"minReplicas": 0}
        canary["spec"]["service"]["gatewayRefs"] = [{"name": f"g{i}"} for i in range(33)]
        canary["spec"]["analysis"]["webhooks"][0]["type"] = "pre-rolout"
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            'spec.targetRef.kind: Unsupported value: "StatefulSet": supported values: "DaemonSet", '
            '"Deployment", "Service"',
            "spec.autoscalerRef.primaryScalerReplicas.minReplicas: Invalid value: 0: "
            "spec.autoscalerRef.primaryScalerReplicas.minReplicas in body should be greater than or "
            "equal to 1",
            "spec.service.gatewayRefs: Too many: 33: must have at most 32 items",
            'spec.analysis.webhooks[0].type: Unsupported value: "pre-rolout": supported values: "", '
            '"confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout", "event", '
            '"rollback", "confirm-traffic-increase"',
        ]

    def test_string_lengths(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["service"]["gatewayRefs"] = [{"name": "", "kind": "K" * 64}]
        _, errors = admit(CANARY, canary)
        assert messages(errors) == [
            'spec.service.gatewayRefs[0].name: Invalid value: "": spec.service.gatewayRefs[0].name in '
            "body should be at least 1 chars long",
            "spec.service.gatewayRefs[0].kind: Too long: may not be more than 63 bytes",
        ]
        assert [e.cause()["reason"] for e in errors] == ["FieldValueInvalid", "FieldValueTooLong"]

    def test_int_or_string(self) -> None:
        canary = tutorial.canary()
        for good in (8080, "http"):
            canary["spec"]["service"]["targetPort"] = good
            assert admit(CANARY, canary)[1] == []
        canary["spec"]["service"]["targetPort"] = 1.5
        assert messages(admit(CANARY, canary)[1]) == [
            'spec.service.targetPort: Invalid value: "number": spec.service.targetPort in body must be '
            'of type integer,string: "number"'
        ]

    def test_additional_properties_values_are_validated(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["webhooks"][0]["metadata"]["retries"] = 3
        assert messages(admit(CANARY, canary)[1]) == [
            'spec.analysis.webhooks[0].metadata.retries: Invalid value: "integer": '
            'spec.analysis.webhooks[0].metadata.retries in body must be of type string: "integer"'
        ]

    @pytest.mark.parametrize(
        ("value", "expected_type"),
        [(True, "boolean"), ([1], "array"), ({"a": 1}, "object"), ("2", "string")],
    )
    def test_type_names_reported_like_go_openapi(self, value: Any, expected_type: str) -> None:
        canary = tutorial.canary()
        canary["spec"]["progressDeadlineSeconds"] = value
        assert messages(admit(CANARY, canary)[1]) == [
            f'spec.progressDeadlineSeconds: Invalid value: "{expected_type}": '
            f'spec.progressDeadlineSeconds in body must be of type number: "{expected_type}"'
        ]

    def test_integer_accepts_whole_floats_but_not_fractions(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["autoscalerRef"]["primaryScalerReplicas"] = {"maxReplicas": 2.0}
        assert admit(CANARY, canary)[1] == []
        canary["spec"]["autoscalerRef"]["primaryScalerReplicas"] = {"maxReplicas": 2.5}
        assert "must be of type integer" in messages(admit(CANARY, canary)[1])[0]

    def test_date_time_format_in_status(self) -> None:
        canary = tutorial.canary()
        canary["status"] = {"lastTransitionTime": "2026-11-26T10:00:00Z", "conditions": []}
        assert admit(CANARY, canary)[1] == []
        canary["status"]["lastTransitionTime"] = "yesterday"
        assert messages(admit(CANARY, canary)[1]) == [
            'status.lastTransitionTime: Invalid value: "yesterday": status.lastTransitionTime in body '
            'must be of type date-time: "yesterday"'
        ]

    def test_unknown_formats_are_ignored(self) -> None:
        canary = tutorial.canary()
        canary["spec"]["analysis"]["webhooks"][0]["url"] = "not a url at all"
        assert admit(CANARY, canary)[1] == []

    def test_metric_template_and_missing_spec(self) -> None:
        template = {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate", "metadata": {"name": "m"}}
        errors = SCHEMAS["MetricTemplate"].validate({**template, "spec": {"provider": {"type": "graphana"}}})
        assert messages(errors) == [
            "spec.query: Required value",
            'spec.provider.type: Unsupported value: "graphana": supported values: "prometheus", "influxdb", '
            '"datadog", "externalmetrics", "stackdriver", "cloudwatch", "newrelic", "graphite", "dynatrace", '
            '"keptn", "splunk"',
        ]
        assert CANARY.validate({"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": {}}) == []

    def test_list_type_map_and_set_duplicates(self) -> None:
        schema = StructuralSchema(
            {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port"],
                        "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                },
            }
        )
        errors = schema.validate({"ports": [{"port": 1}, {"port": 1}], "tags": ["a", "b", "a"]})
        assert messages(errors) == [
            'ports[1]: Duplicate value: map[string]interface {}{"port":1}',
            'tags[2]: Duplicate value: "a"',
        ]

    def test_preserve_unknown_fields_and_embedded_resources(self) -> None:
        schema = StructuralSchema(
            {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "template": {
                                "type": "object",
                                "x-kubernetes-embedded-resource": True,
                                "properties": {
                                    "spec": {"type": "object", "properties": {"a": {"type": "string"}}}
                                },
                            },
                            "strict": {"type": "object"},
                        },
                    }
                },
            }
        )
        obj = {
            "spec": {
                "free": {"anything": {"goes": [1]}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {"a": "x", "b": 1},
                },
                "strict": {"dropped": True},
            }
        }
        assert schema.prune(obj) == {
            "spec": {
                "free": {"anything": {"goes": [1]}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {"a": "x"},
                },
                "strict": {},
            }
        }

    def test_numeric_bounds_variants(self) -> None:
        schema = StructuralSchema(
            {
                "type": "object",
                "properties": {
                    "a": {"type": "number", "maximum": 10, "exclusiveMaximum": True},
                    "b": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                    "c": {"type": "integer", "multipleOf": 5},
                    "d": {"type": "number", "maximum": 1.5},
                },
            }
        )
        assert messages(schema.validate({"a": 10, "b": 0, "c": 7, "d": 2})) == [
            "a: Invalid value: 10: a in body should be less than 10",
            "b: Invalid value: 0: b in body should be greater than 0",
            "c: Invalid value: 7: c in body should be a multiple of 5",
            "d: Invalid value: 2: d in body should be less than or equal to 1.5",
        ]


def test_invalid_deduplicates_identical_messages() -> None:
    error = FieldError("spec.x", "Required value")
    status = invalid("Widget", "w", [error, error], "").to_status()
    assert status["message"] == 'Widget "w" is invalid: spec.x: Required value'
    assert len(status["details"]["causes"]) == 2


PROJECT_CRDS = Path(__file__).parents[3] / "kustomize" / "base" / "flagman" / "crd.yaml"


@pytest.mark.skipif(
    not PROJECT_CRDS.exists(), reason="the project's CRDs (kustomize/base/flagman/crd.yaml) are absent"
)
def test_the_projects_own_canary_crd_accepts_the_tutorial_and_names_a_typo() -> None:
    documents = [d for d in yaml.safe_load_all(PROJECT_CRDS.read_text()) if d]
    canary_crd = next(d for d in documents if d["spec"]["names"]["kind"] == "Canary")
    schema = StructuralSchema(canary_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    canary = tutorial.canary()
    result, errors = admit(schema, canary)
    assert errors == []
    assert result == canary
    canary["spec"]["analysis"]["threshold"] = "two"
    message = invalid("Canary", "podinfo", admit(schema, canary)[1], "flagger.app").message
    assert message == (
        'Canary.flagger.app "podinfo" is invalid: spec.analysis.threshold: Invalid value: "string": '
        'spec.analysis.threshold in body must be of type number: "string"'
    )
