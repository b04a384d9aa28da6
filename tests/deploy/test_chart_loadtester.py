"""charts/loadtester rendered by real helm: the tutorial's helm tester, Flagger's values, auth, RBAC."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from loadtester.settings import parse_settings
from tests.deploy.tooling import (
    CHARTS,
    container,
    find,
    helm,
    helm_template,
    helm_template_error,
    kinds,
    run,
    set_arguments,
    validate_objects,
)

HELMTESTER = {"serviceAccountName": "tiller"}
COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "helmtester": HELMTESTER,
    "rbac-namespaced": {"rbac.create": True},
    "rbac-cluster-existing-account": {
        "rbac.create": True,
        "rbac.scope": "cluster",
        "serviceAccountName": "tiller",
    },
    "auth-token": {"auth.token": "s3cr3t"},
    "auth-existing-secret": {"auth.existingSecret": "loadtester-token"},
    "security-context-off": {"securityContext.enabled": False, "podSecurityContext.enabled": False},
    "everything": {
        "cmd.timeout": "30m",
        "cmd.namespaceRegexp": "^test$",
        "logLevel": "debug",
        "service.type": "NodePort",
        "service.port": 8081,
        "podDisruptionBudget.enabled": True,
        "podPriorityClassName": "low",
        "image.pullSecret": "registry",
        "podLabels.team": "delivery",
        "nodeSelector.kubernetes\\.io/os": "linux",
    },
}


def loadtester(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return container(find(objects, "Deployment", name), "loadtester")


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_helm_lint_passes(combination: str) -> None:
    completed = run(
        [helm(), "lint", "--strict", str(CHARTS / "loadtester"), *set_arguments(COMBINATIONS[combination])]
    )
    assert "0 chart(s) failed" in completed.stdout


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_rendered_object_validates(combination: str) -> None:
    validate_objects(helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS[combination]))


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_rendered_command_is_accepted_by_the_load_testers_parser(combination: str) -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS[combination])
    command = loadtester(objects, "flagger-loadtester")["command"]
    assert command[0] == "./loadtester"
    settings = parse_settings(command[1:], {})
    assert settings.port == 8080


def test_the_tutorials_helm_tester_serves_at_flagger_helmtester_kube_system() -> None:
    objects = helm_template("loadtester", "flagger-helmtester", "kube-system", HELMTESTER)
    assert kinds(objects) == [("Deployment", "flagger-helmtester"), ("Service", "flagger-helmtester")]
    service = find(objects, "Service", "flagger-helmtester")
    deployment = find(objects, "Deployment", "flagger-helmtester")
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"] == "kube-system"
    assert service["spec"]["ports"] == [{"port": 80, "targetPort": "http", "protocol": "TCP", "name": "http"}]
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["serviceAccountName"] == "tiller"
    assert loadtester(objects, "flagger-helmtester")["ports"] == [{"name": "http", "containerPort": 8080}]


def test_defaults_match_flaggers_command_line() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test")
    main = loadtester(objects, "flagger-loadtester")
    assert main["command"] == [
        "./loadtester",
        "-port=8080",
        "-log-level=info",
        "-timeout=1h",
        "-namespace-regexp=",
    ]
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    annotations = find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert "serviceAccountName" not in find(objects, "Deployment")["spec"]["template"]["spec"]
    settings = parse_settings(main["command"][1:], {})
    assert (settings.timeout, settings.log_level, settings.namespace_regexp) == (3600.0, "info", None)


def test_two_releases_in_one_namespace_have_services_that_select_only_their_own_pods() -> None:
    tester = helm_template("loadtester", "flagger-loadtester", "test")
    helmtester = helm_template("loadtester", "flagger-helmtester", "test")
    tester_service = find(tester, "Service")["spec"]["selector"]
    helmtester_pod = find(helmtester, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not tester_service.items() <= helmtester_pod.items()


def test_rbac_namespaced_creates_account_role_and_binding() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS["rbac-namespaced"])
    assert kinds(objects) == [
        ("Deployment", "flagger-loadtester"),
        ("Role", "flagger-loadtester"),
        ("RoleBinding", "flagger-loadtester"),
        ("Service", "flagger-loadtester"),
        ("ServiceAccount", "flagger-loadtester"),
    ]
    binding = find(objects, "RoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flagger-loadtester", "namespace": "test"}
    ]
    assert (
        find(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "flagger-loadtester"
    )


def test_rbac_binding_targets_the_given_service_account() -> None:
    values = {**COMBINATIONS["rbac-cluster-existing-account"]}
    objects = helm_template("loadtester", "flagger-helmtester", "kube-system", values)
    assert ("ServiceAccount", "flagger-helmtester") not in kinds(objects)
    binding = find(objects, "ClusterRoleBinding", "flagger-helmtester")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tiller", "namespace": "kube-system"}]
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert "namespace" not in find(objects, "ClusterRole")["metadata"]


def test_auth_token_goes_through_a_secret_into_the_environment() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS["auth-token"])
    secret = find(objects, "Secret", "flagger-loadtester-auth")
    assert base64.b64decode(secret["data"]["token"]) == b"s3cr3t"
    env = loadtester(objects, "flagger-loadtester")["env"]
    assert env == [
        {
            "name": "LOADTESTER_AUTH_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "flagger-loadtester-auth", "key": "token"}},
        }
    ]
    assert "s3cr3t" not in str(loadtester(objects, "flagger-loadtester")["command"])
    assert parse_settings([], {"LOADTESTER_AUTH_TOKEN": "s3cr3t"}).auth_token == "s3cr3t"


def test_auth_existing_secret_is_referenced_not_created() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS["auth-existing-secret"])
    assert not [obj for obj in objects if obj["kind"] == "Secret"]
    env = loadtester(objects, "flagger-loadtester")["env"]
    assert env[0]["valueFrom"]["secretKeyRef"] == {"name": "loadtester-token", "key": "token"}


def test_every_optional_value_is_rendered() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS["everything"])
    main = loadtester(objects, "flagger-loadtester")
    assert main["command"] == [
        "./loadtester",
        "-port=8080",
        "-log-level=debug",
        "-timeout=30m",
        "-namespace-regexp=^test$",
    ]
    settings = parse_settings(main["command"][1:], {})
    assert settings.timeout == 1800.0
    assert settings.namespace_pattern == "^test$"
    service = find(objects, "Service")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["port"] == 8081
    pod = find(objects, "Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "delivery"
    assert pod["spec"]["priorityClassName"] == "low"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert find(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_security_contexts_can_be_turned_off() -> None:
    objects = helm_template("loadtester", "flagger-loadtester", "test", COMBINATIONS["security-context-off"])
    assert "securityContext" not in loadtester(objects, "flagger-loadtester")
    assert "securityContext" not in find(objects, "Deployment")["spec"]["template"]["spec"]


def test_several_replicas_are_refused_with_the_reason() -> None:
    error = helm_template_error("loadtester", {"replicaCount": 2})
    assert "replicaCount > 1 is not supported" in error


FLAGGER_VALUE_KEYS = [
    "replicaCount",
    "image.repository",
    "image.tag",
    "image.pullPolicy",
    "image.pullSecret",
    "podLabels",
    "podAnnotations",
    "podPriorityClassName",
    "logLevel",
    "cmd.timeout",
    "cmd.namespaceRegexp",
    "nameOverride",
    "fullnameOverride",
    "env",
    "service.type",
    "service.port",
    "resources",
    "volumes",
    "volumeMounts",
    "nodeSelector",
    "tolerations",
    "affinity",
    "rbac.create",
    "rbac.scope",
    "rbac.rules",
    "rbac.serviceAccountAnnotations",
    "serviceAccountName",
    "securityContext.enabled",
    "securityContext.context",
    "podSecurityContext.enabled",
    "podSecurityContext.context",
    "podDisruptionBudget.enabled",
    "podDisruptionBudget.minAvailable",
    "auth.token",
    "auth.existingSecret",
]


@pytest.mark.parametrize("key", FLAGGER_VALUE_KEYS)
def test_values_declare_flaggers_keys(key: str) -> None:
    import yaml

    node: Any = yaml.safe_load((CHARTS / "loadtester" / "values.yaml").read_text())
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"values.yaml lacks {key}"
        node = node[part]
