"""charts/podinfo: the demo workload, its Blue/Green Canary and the `helm test` hook for the helm tester."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from controller.api.canary import Canary
from tests.deploy.tooling import (
    CHARTS,
    CRD_SOURCE,
    container,
    find,
    helm,
    helm_template,
    kinds,
    run,
    set_arguments,
)
from tests.deploy.tooling import validate_objects as validate_builtin_objects

COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "canary": {"canary.enabled": True},
    "no-hpa": {"hpa.enabled": False, "canary.enabled": True, "canary.helmtest.enabled": False},
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    return helm_template("podinfo", "podinfo", "test", values)


def canary_schema() -> dict[str, Any]:
    if not CRD_SOURCE.is_file():
        pytest.skip("kustomize/base/flagman/crd.yaml does not exist yet (helper controller-core)")
    crds = [doc for doc in yaml.safe_load_all(CRD_SOURCE.read_text()) if doc]
    crd = next(crd for crd in crds if crd["metadata"]["name"] == "canaries.flagger.app")
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_helm_lint_passes(combination: str) -> None:
    completed = run(
        [helm(), "lint", "--strict", str(CHARTS / "podinfo"), *set_arguments(COMBINATIONS[combination])]
    )
    assert "0 chart(s) failed" in completed.stdout


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_builtin_objects_validate(combination: str) -> None:
    objects = [obj for obj in render(COMBINATIONS[combination]) if obj["kind"] != "Canary"]
    validate_builtin_objects(objects)


def test_defaults_are_the_tutorial_workload_with_a_service() -> None:
    objects = render({})
    assert kinds(objects) == [
        ("Deployment", "podinfo"),
        ("HorizontalPodAutoscaler", "podinfo"),
        ("Pod", "podinfo-test-token"),
        ("Service", "podinfo"),
    ]
    podinfod = container(find(objects, "Deployment"), "podinfod")
    assert {(p["name"], p["containerPort"]) for p in podinfod["ports"]} == {
        ("http", 9898),
        ("http-metrics", 9797),
    }
    annotations = find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "9797"}


def test_the_helm_test_hook_checks_the_token_api() -> None:
    test_pod = find(render({}), "Pod", "podinfo-test-token")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["restartPolicy"] == "Never"
    script = test_pod["spec"]["containers"][0]["command"][-1]
    assert "url=http://podinfo.test:9898" in script
    assert '"$url/token"' in script and '"$url/token/validate"' in script


def test_with_canary_the_controller_owns_the_services() -> None:
    objects = render({"canary.enabled": True})
    assert not [obj for obj in objects if obj["kind"] == "Service"]
    canary = find(objects, "Canary", "podinfo")
    spec = canary["spec"]
    assert spec["provider"] == "kubernetes"
    assert spec["autoscalerRef"]["name"] == "podinfo"
    assert spec["analysis"]["iterations"] == 10
    webhooks = {hook["name"]: hook for hook in spec["analysis"]["webhooks"]}
    assert webhooks["helm test"]["url"] == "http://flagger-helmtester.kube-system/"
    assert webhooks["helm test"]["metadata"] == {"type": "helmv3", "cmd": "test podinfo -n test"}
    assert webhooks["load-test"]["url"] == "http://flagger-loadtester.test/"


@pytest.mark.parametrize("combination", ["canary", "no-hpa"])
def test_the_canary_validates_against_the_crd_and_the_controllers_model(combination: str) -> None:
    canary = find(render(COMBINATIONS[combination]), "Canary", "podinfo")
    jsonschema.validate(canary, canary_schema())
    parsed = Canary.from_dict({**canary, "metadata": {**canary["metadata"], "namespace": "test"}})
    assert parsed.name == "podinfo"
