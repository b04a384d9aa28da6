"""The CRD file: names, printer columns, and its schema accepting Flagger manifests and rejecting bad ones.

The schema is checked with jsonschema after turning the Kubernetes extensions into plain JSON Schema,
which is how the API server's structural validation behaves for these keywords.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.data.tutorial import canary_with_not_found_metric

CRD_FILE = Path(__file__).resolve().parents[3] / "kustomize" / "base" / "flagman" / "crd.yaml"


@functools.cache
def _crds() -> dict[str, dict[str, Any]]:
    return {doc["spec"]["names"]["kind"]: doc for doc in yaml.safe_load_all(CRD_FILE.read_text())}


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _json_schema(value) for key, value in node.items() if not key.startswith("x-kubernetes")}
    if node.get("x-kubernetes-int-or-string"):
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    result.pop("format", None)
    return result


@functools.cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    schema = _crds()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(_json_schema(schema))


def test_three_crds_in_group_flagger_app() -> None:
    crds = _crds()
    assert set(crds) == {"Canary", "MetricTemplate", "AlertProvider"}
    for kind, crd in crds.items():
        assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.flagger.app"
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["spec"]["names"]["categories"] == ["all"]
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1beta1", True, True), kind
        assert version["subresources"] == {"status": {}}


def test_canary_printer_columns() -> None:
    columns = _crds()["Canary"]["spec"]["versions"][0]["additionalPrinterColumns"]
    default = [(c["name"], c["jsonPath"]) for c in columns if not c.get("priority")]
    wide = [c["name"] for c in columns if c.get("priority") == 1]
    assert default == [
        ("Status", ".status.phase"),
        ("Weight", ".status.canaryWeight"),
        ("LastTransitionTime", ".status.lastTransitionTime"),
    ]
    assert wide == [
        "Suspended",
        "FailedChecks",
        "Interval",
        "Mirror",
        "StepWeight",
        "StepWeights",
        "MaxWeight",
    ]
    assert [
        c["jsonPath"] for c in _crds()["MetricTemplate"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ] == [".spec.provider.type"]
    assert [
        c["jsonPath"] for c in _crds()["AlertProvider"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ] == [".spec.type"]


def test_tutorial_canary_is_valid() -> None:
    errors = list(_validator("Canary").iter_errors(canary_with_not_found_metric()))
    assert errors == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("targetRef"),
        lambda s: s.pop("analysis"),
        lambda s: s["service"].pop("port"),
        lambda s: s["analysis"].update(interval="thirty"),
        lambda s: s["analysis"]["webhooks"][0].update(type="pre-rolout"),
        lambda s: s["analysis"].pop("iterations"),
        lambda s: s["targetRef"].update(kind="StatefulSet"),
        lambda s: s.update(provider="envoy"),
    ],
)
def test_bad_canaries_are_rejected(mutate: Any) -> None:
    body = copy.deepcopy(canary_with_not_found_metric())
    mutate(body["spec"])
    assert list(_validator("Canary").iter_errors(body)), "expected a schema error"


def test_status_schema_accepts_what_the_controller_writes() -> None:
    from controller.api import CanaryStatus, Condition, Phase

    status = CanaryStatus(
        phase=Phase.WAITING_PROMOTION,
        iterations=3,
        tracked_configs={"secret/db": "0123456789abcdef"},
        last_transition_time="2026-01-01T12:00:00Z",
        conditions=(Condition("Promoted", "Unknown", "WaitingPromotion", "Waiting for approval."),),
    )
    body = canary_with_not_found_metric() | {"status": status.to_dict()}
    assert list(_validator("Canary").iter_errors(body)) == []


def test_metric_template_and_alert_provider_schemas() -> None:
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "not-found-percentage", "namespace": "test"},
        "spec": {
            "provider": {"type": "prometheus", "address": "http://prometheus:9090"},
            "query": "vector(1)",
        },
    }
    assert list(_validator("MetricTemplate").iter_errors(template)) == []
    template["spec"]["provider"]["type"] = "graphana"
    assert list(_validator("MetricTemplate").iter_errors(template))

    provider = {"spec": {"type": "slack", "address": "https://hooks.slack.com/x"}}
    assert list(_validator("AlertProvider").iter_errors(provider)) == []
    provider_both = {"spec": {"type": "slack", "address": "https://x", "secretRef": {"name": "s"}}}
    assert list(_validator("AlertProvider").iter_errors(provider_both)), "oneOf: address xor secretRef"


def test_crds_are_valid_apiextensions_v1_objects() -> None:
    import kubernetes_validate

    for crd in _crds().values():
        kubernetes_validate.validate(crd, "1.30", strict=True)


def _untyped_nodes(node: Any, path: str) -> list[str]:
    """Structural-schema rule: every property schema states its type (or is int-or-string/free-form)."""
    found: list[str] = []
    for name, child in (node.get("properties") or {}).items():
        where = f"{path}.{name}"
        exempt = child.get("x-kubernetes-int-or-string") or child.get("x-kubernetes-preserve-unknown-fields")
        if "type" not in child and not exempt:
            found.append(where)
        found += _untyped_nodes(child, where)
        if isinstance(child.get("items"), dict):
            found += _untyped_nodes(child["items"], where + "[]")
        if isinstance(child.get("additionalProperties"), dict):
            found += _untyped_nodes(child["additionalProperties"], where + "{}")
    return found


def test_schemas_are_structural() -> None:
    for kind, crd in _crds().items():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert _untyped_nodes(schema, kind) == []
