"""On the real kube-apiserver: requests written by ``kubectl-flagman`` survive Flux's server-side apply of
the Canary manifest (the truth behind the emulator's managedFields), and ``requestedBy`` is the user the
API server authenticates (SelfSubjectReview). Skips when the control plane is not built."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from pathlib import Path
from typing import Any

import yaml

from controller.api.requests import PAUSE_ANNOTATION, REQUEST_ANNOTATION
from sandbox.controlplane import ControlPlane
from tests.controller.kube import objects

PLUGIN = Path(sys.executable).parent / "kubectl-flagman"
CRD_FILE = Path(__file__).parents[2] / "kustomize" / "base" / "flagman" / "crd.yaml"
FLUX = "kustomize-controller"


def _install_crds(plane: ControlPlane) -> None:
    for document in yaml.safe_load_all(CRD_FILE.read_text()):
        if not document:
            continue
        try:
            plane.admin_request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", document)
        except urllib.error.HTTPError as error:
            if error.code != 409:  # installed by an earlier test of this session
                raise
    for _ in range(100):
        try:
            plane.admin_request("GET", "/apis/flagger.app/v1beta1/canaries")
            return
        except urllib.error.HTTPError:
            subprocess.run(["sleep", "0.1"], check=True)
    raise AssertionError("the Canary CRD never served")


def _flux_apply(plane: ControlPlane, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    path = f"/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/podinfo?fieldManager={FLUX}&force=true"
    answer: dict[str, Any] = plane.admin_request(
        "PATCH", path, manifest, content_type="application/apply-patch+yaml"
    )
    return answer


def _plugin(plane: ControlPlane, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLUGIN), "--kubeconfig", str(plane.admin_kubeconfig), "-n", namespace, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_requests_survive_flux_server_side_apply(control_plane: ControlPlane, real_namespace: str) -> None:
    _install_crds(control_plane)
    manifest = objects.tutorial_canary()
    manifest["metadata"]["namespace"] = real_namespace
    created = _flux_apply(control_plane, real_namespace, manifest)
    # What the controller would have written: a release under analysis.
    created["status"] = {"phase": "Progressing", "lastAppliedSpec": "fm1-abc", "iterations": 2}
    control_plane.admin_request(
        "PUT", f"/apis/flagger.app/v1beta1/namespaces/{real_namespace}/canaries/podinfo/status", created
    )

    assert _plugin(control_plane, real_namespace, "pause", "podinfo").returncode == 0
    promoted = _plugin(control_plane, real_namespace, "promote", "podinfo", "--no-wait")
    assert promoted.returncode == 0, promoted.stderr

    manifest["spec"]["analysis"]["threshold"] = 7  # a new commit in git
    applied = _flux_apply(control_plane, real_namespace, manifest)

    annotations = applied["metadata"]["annotations"]
    request = json.loads(annotations[REQUEST_ANNOTATION])
    assert (request["action"], request["revision"]) == ("promote", "fm1-abc")
    assert PAUSE_ANNOTATION in annotations
    assert applied["spec"]["analysis"]["threshold"] == 7
    owners = {
        entry["manager"]: entry["fieldsV1"].get("f:metadata", {}).get("f:annotations", {})
        for entry in applied["metadata"]["managedFields"]
    }
    assert f"f:{REQUEST_ANNOTATION}" in owners["kubectl-flagman"]
    assert f"f:{REQUEST_ANNOTATION}" not in owners.get(FLUX, {})

    review = control_plane.admin_request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    assert request["requestedBy"] == review["status"]["userInfo"]["username"]

    # resume removes only the pause; Flux's next apply does not bring it back.
    assert _plugin(control_plane, real_namespace, "resume", "podinfo").returncode == 0
    applied = _flux_apply(control_plane, real_namespace, manifest)
    assert PAUSE_ANNOTATION not in applied["metadata"]["annotations"]
    assert REQUEST_ANNOTATION in applied["metadata"]["annotations"]
