"""Static policy checks with real checkov on everything the charts and kustomize render.

checkov cannot share the project venv (it pins `packaging<24`, pytest needs `>=24`), so it lives in its own
venv: `make checkov` creates `.tools/checkov-venv`. Every finding left unfixed is listed below with the
reason; anything else fails the test.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tooling import CRD_SOURCE, REPO, helm_template, kustomize, tool

# Findings accepted everywhere, with the reason.
ACCEPTED_EVERYWHERE = {
    # Images are referenced by immutable version tags that users override per environment (as Flagger's
    # charts do); a digest would have to be bumped for every build. Pin digests in your own values.
    "CKV_K8S_43": "image digests",
    # With versioned tags, IfNotPresent is correct and keeps nodes working when the registry is down.
    "CKV_K8S_15": "imagePullPolicy Always",
    # Egress needs (API server, Prometheus, webhook targets, Slack) are cluster-specific; shipping a
    # NetworkPolicy would break installs. Add one in your overlay.
    "CKV2_K8S_6": "NetworkPolicy",
}

# Findings accepted for one resource (checkov's resource id), with the reason.
ACCEPTED_FOR = {
    # The controller, Prometheus (pod discovery) and the load tester (helm/kubectl tasks) call the API.
    ("CKV_K8S_38", "Deployment.flagger.flagger"): "the controller calls the Kubernetes API",
    ("CKV_K8S_38", "Deployment.flagger-system.flagger"): "the controller calls the Kubernetes API",
    ("CKV_K8S_38", "Deployment.flagger.flagger-prometheus"): "Prometheus discovers pods through the API",
    (
        "CKV_K8S_38",
        "Deployment.flagger-system.flagger-prometheus",
    ): "Prometheus discovers pods through the API",
    ("CKV_K8S_38", "Deployment.kube-system.flagger-helmtester"): "helm test tasks call the API",
    ("CKV_K8S_38", "Deployment.test.flagger-loadtester"): "kubectl/helm tasks call the API",
    # The load tester reads its bearer token from LOADTESTER_AUTH_TOKEN (Flagger's charts pass SLACK_URL
    # and friends the same way); the value comes from a Secret and never appears in the pod spec.
    ("CKV_K8S_35", "Deployment.kube-system.flagger-helmtester"): "auth token from a Secret via env",
    # The helm test pod runs to completion: probes make no sense for it.
    ("CKV_K8S_8", "Pod.test.podinfo-test-token"): "run-to-completion test pod",
    ("CKV_K8S_9", "Pod.test.podinfo-test-token"): "run-to-completion test pod",
}


def checkov() -> str:
    return tool("checkov", REPO / ".tools" / "checkov-venv" / "bin" / "checkov")


def rendered_sets() -> dict[str, list[dict[str, Any]]]:
    sets = {
        "chart-flagman-defaults": helm_template("flagman", "flagger", "flagger"),
        "chart-flagman-full": helm_template(
            "flagman",
            "flagger",
            "flagger",
            {"prometheus.install": True, "serviceMonitor.enabled": True, "podDisruptionBudget.enabled": True},
        ),
        "chart-loadtester": helm_template("loadtester", "flagger-loadtester", "test"),
        "chart-helmtester": helm_template(
            "loadtester",
            "flagger-helmtester",
            "kube-system",
            {"serviceAccountName": "tiller", "rbac.create": True, "auth.token": "t"},
        ),
        "chart-podinfo": helm_template("podinfo", "podinfo", "test"),
        "kustomize-podinfo": kustomize("podinfo"),
        "kustomize-tester": kustomize("tester"),
        "kustomize-prometheus": kustomize("base/prometheus"),
    }
    if CRD_SOURCE.is_file():
        sets["kustomize-kubernetes"] = kustomize("kubernetes")
    return sets


def failed_checks(directory: Path) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [
            checkov(),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    reports = json.loads(completed.stdout) if completed.stdout.strip() else []
    if isinstance(reports, dict):
        reports = [reports]
    return [check for report in reports for check in report.get("results", {}).get("failed_checks", [])]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("rendered")
    for name, objects in rendered_sets().items():
        # CRDs are not workloads; checkov has nothing to say about them
        documents = [obj for obj in objects if obj["kind"] != "CustomResourceDefinition"]
        (directory / f"{name}.yaml").write_text(yaml.safe_dump_all(documents))
    return failed_checks(directory)


def test_no_unaccepted_checkov_finding(findings: list[dict[str, Any]]) -> None:
    unaccepted = sorted(
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in findings
        if check["check_id"] not in ACCEPTED_EVERYWHERE
        and (check["check_id"], check["resource"]) not in ACCEPTED_FOR
    )
    assert not unaccepted, "\n".join(unaccepted)


def test_checkov_does_check_something(tmp_path: Path) -> None:
    """A privileged root pod must be reported, so a silent checkov cannot pass the test above."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "test"},
        "spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]},
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(pod))
    assert "CKV_K8S_16" in {check["check_id"] for check in failed_checks(tmp_path)}  # privileged container
