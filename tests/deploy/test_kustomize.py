"""kustomize/ built by real `kubectl kustomize`: the tutorial's objects, Flagger's names, valid objects."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from controller.settings import parse_settings
from tests.deploy.tooling import (
    CHARTS,
    CRD_SOURCE,
    KUSTOMIZE,
    container,
    find,
    helm_template,
    kinds,
    kustomize,
    validate_objects,
)

NEEDS_CRD = ("base/flagman", "kubernetes")
KUSTOMIZATIONS = sorted(
    str(path.parent.relative_to(KUSTOMIZE)) for path in KUSTOMIZE.glob("**/kustomization.yaml")
)


def build(directory: str) -> list[dict[str, Any]]:
    if directory in NEEDS_CRD and not CRD_SOURCE.is_file():
        pytest.skip("kustomize/base/flagman/crd.yaml does not exist yet (helper controller-core)")
    return kustomize(directory)


def test_every_expected_kustomization_exists() -> None:
    assert KUSTOMIZATIONS == ["base/flagman", "base/prometheus", "kubernetes", "podinfo", "tester"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_every_kustomization_builds_and_validates(directory: str) -> None:
    objects = build(directory)
    assert objects
    validate_objects(objects)


def test_podinfo_is_the_tutorials_workload() -> None:
    objects = build("podinfo")
    assert kinds(objects) == [("Deployment", "podinfo"), ("HorizontalPodAutoscaler", "podinfo")]
    deployment = find(objects, "Deployment", "podinfo")
    assert deployment["metadata"]["namespace"] == "test"
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9797"}
    assert pod["metadata"]["labels"] == {"app": "podinfo"}
    podinfod = container(deployment, "podinfod")
    assert {(port["name"], port["containerPort"]) for port in podinfod["ports"]} == {
        ("http", 9898),
        ("http-metrics", 9797),
        ("grpc", 9999),
    }
    assert podinfod["livenessProbe"]["exec"]["command"][-1] == "localhost:9898/healthz"
    assert podinfod["readinessProbe"]["exec"]["command"][-1] == "localhost:9898/readyz"
    hpa = find(objects, "HorizontalPodAutoscaler", "podinfo")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)


def test_tester_answers_at_flagger_loadtester_dot_test_port_80() -> None:
    objects = build("tester")
    assert kinds(objects) == [("Deployment", "flagger-loadtester"), ("Service", "flagger-loadtester")]
    service = find(objects, "Service", "flagger-loadtester")
    deployment = find(objects, "Deployment", "flagger-loadtester")
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"] == "test"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    loadtester = container(deployment, "loadtester")
    assert loadtester["ports"] == [{"name": "http", "containerPort": 8080}]
    assert loadtester["command"] == ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"]
    assert loadtester["image"] == "ghcr.io/flagman/loadtester:0.1.0"
    assert loadtester["securityContext"]["readOnlyRootFilesystem"] is True


def test_prometheus_base_is_flagger_prometheus_with_the_config_mounted() -> None:
    objects = build("base/prometheus")
    service = find(objects, "Service", "flagger-prometheus")
    assert service["metadata"]["namespace"] == "flagger-system"
    assert service["spec"]["ports"][0]["port"] == 9090
    config_map = find(objects, "ConfigMap")
    assert config_map["metadata"]["name"].startswith("flagger-prometheus-")  # content hash suffix
    deployment = find(objects, "Deployment", "flagger-prometheus")
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == config_map["metadata"]["name"]
    config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    assert [job["job_name"] for job in config["scrape_configs"]] == ["kubernetes-pods"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_kubernetes_overlay_runs_the_kubernetes_provider_against_the_bundled_prometheus() -> None:
    objects = build("kubernetes")
    namespace = find(objects, "Namespace", "flagger-system")
    assert namespace["metadata"]["labels"]["istio-injection"] == "disabled"
    for obj in objects:
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
            assert obj["metadata"]["namespace"] == "flagger-system", obj["metadata"]["name"]
    flagger = container(find(objects, "Deployment", "flagger"), "flagger")
    assert "command" not in flagger  # the image's entrypoint, `./flagger`, as with Flagger's base
    assert flagger["args"] == [
        "-log-level=info",
        "-include-label-prefix=app.kubernetes.io",
        "-mesh-provider=kubernetes",
        "-metrics-server=http://flagger-prometheus:9090",
    ]
    settings = parse_settings(flagger["args"], {})
    assert settings.metrics_server == "http://flagger-prometheus:9090"
    assert find(objects, "Service", "flagger-prometheus")
    binding = find(objects, "ClusterRoleBinding", "flagger")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flagger", "namespace": "flagger-system"}
    ]
    deployment = find(objects, "Deployment", "flagger")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "flagger"


def test_flagman_base_has_the_crds_and_the_same_rbac_as_the_chart() -> None:
    objects = build("base/flagman")
    crds = sorted(obj["metadata"]["name"] for obj in objects if obj["kind"] == "CustomResourceDefinition")
    assert crds == ["alertproviders.flagger.app", "canaries.flagger.app", "metrictemplates.flagger.app"]
    chart_role = find(helm_template("flagman", "flagger", "flagger"), "ClusterRole", "flagger")
    assert find(objects, "ClusterRole", "flagger")["rules"] == chart_role["rules"]
    assert (CHARTS / "flagman").is_dir()
