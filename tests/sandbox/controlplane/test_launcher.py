"""The real control plane: identities, verified TLS for kubectl and the Python client, RBAC enforced,
the controllers and the scheduler at work, and a teardown that leaves no process behind.

Needs `make control-plane`; skips without it (fails with FLAGMAN_REQUIRE_REAL_BACKEND=1).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
import urllib.error
from typing import Any

import pytest

from controller.errors import KubeError
from controller.kube.api import KubeApi
from sandbox.controlplane import ControlPlane, ControlPlaneError
from sandbox.controlplane.pki import CertificateAuthority
from tests.realbackend import control_plane_binaries_or_skip


def kubectl(kubeconfig: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=60, env=env
    )


def whoami(kubeconfig: pathlib.Path) -> dict[str, Any]:
    result = kubectl(kubeconfig, "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout)["status"]["userInfo"])


def wait_for(probe: Any, what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_version_and_admin_kubeconfig_with_verified_tls(control_plane: ControlPlane) -> None:
    assert control_plane.version.startswith("v1.")
    assert control_plane.admin_request("GET", "/version")["gitVersion"] == control_plane.version
    config = control_plane.admin_kubeconfig.read_text()
    assert f"certificate-authority: {control_plane.ca_file}" in config and "insecure" not in config
    listed = kubectl(control_plane.admin_kubeconfig, "get", "namespaces", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert "namespace/kube-system" in listed.stdout.split()
    assert "system:masters" in whoami(control_plane.admin_kubeconfig)["groups"]


def test_each_component_has_its_own_identity(control_plane: ControlPlane) -> None:
    kubeconfigs = control_plane.workdir / "kubeconfigs"
    for component in ("kube-controller-manager", "kube-scheduler"):
        user = whoami(kubeconfigs / f"{component}.kubeconfig")
        assert user["username"] == f"system:{component}"
        assert "system:masters" not in user.get("groups", [])
    denied = kubectl(kubeconfigs / "kube-scheduler.kubeconfig", "auth", "can-i", "list", "secrets", "-A")
    assert denied.stdout.strip() == "no"


async def test_the_python_client_verifies_the_apiserver_certificate(
    control_plane: ControlPlane, tmp_path: pathlib.Path
) -> None:
    api = await KubeApi.connect(str(control_plane.admin_kubeconfig))
    try:
        listing = await api.request("GET", "/api/v1/namespaces")
        assert "default" in {item["metadata"]["name"] for item in listing["items"]}
    finally:
        await api.close()
    # The same server with another CA's certificate as the trust anchor: refused.
    stranger = CertificateAuthority.create(tmp_path / "stranger", "stranger")
    untrusting = tmp_path / "untrusting.kubeconfig"
    untrusting.write_text(
        control_plane.admin_kubeconfig.read_text().replace(str(control_plane.ca_file), str(stranger.cert))
    )
    api = await KubeApi.connect(str(untrusting))
    try:
        with pytest.raises(KubeError, match="certificate verify failed"):
            await api.request("GET", "/api/v1/namespaces")
    finally:
        await api.close()


def test_rbac_is_enforced_for_a_service_account_token(
    control_plane: ControlPlane, real_namespace: str, tmp_path: pathlib.Path
) -> None:
    ns = real_namespace
    control_plane.admin_request(
        "POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}},
    )  # fmt: skip
    token = control_plane.admin_request(
        "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/reader/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 3600}},
    )["status"]["token"]  # fmt: skip
    kubeconfig = control_plane.kubeconfig_for(token, tmp_path / "reader.kubeconfig", namespace=ns)
    assert whoami(kubeconfig)["username"] == f"system:serviceaccount:{ns}:reader"
    before = kubectl(kubeconfig, "get", "configmaps")
    assert before.returncode != 0 and "Forbidden" in before.stderr
    control_plane.admin_request(
        "POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]},
    )  # fmt: skip
    control_plane.admin_request(
        "POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]},
    )  # fmt: skip
    after = wait_for(lambda: (r := kubectl(kubeconfig, "get", "configmaps")).returncode == 0 and r, "RBAC")
    assert "kube-root-ca.crt" in after.stdout  # the controller-manager publishes the CA in every namespace


def test_the_controller_manager_and_the_scheduler_do_their_work(
    control_plane: ControlPlane, real_namespace: str
) -> None:
    """A Deployment gets a ReplicaSet and a Pod (controller-manager); the Pod is bound to the only Node
    that can take it (scheduler)."""
    ns = real_namespace
    node = f"node-{ns}"
    control_plane.admin_request(
        "POST", "/api/v1/nodes",
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"test": ns}}},
    )  # fmt: skip
    try:
        control_plane.admin_request(
            "PATCH", f"/api/v1/nodes/{node}/status",
            {"status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                        "message": "test node"}]}},
            content_type="application/strategic-merge-patch+json",
        )  # fmt: skip
        labels = {"app": "web"}
        control_plane.admin_request(
            "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels},
                                   "spec": {"nodeSelector": {"test": ns},
                                            "containers": [{"name": "web", "image": "example/web:1"}]}}}},
        )  # fmt: skip

        def bound_pod() -> dict[str, Any] | None:
            pods = control_plane.admin_request("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
            return next((pod for pod in pods if pod["spec"].get("nodeName")), None)

        pod = wait_for(bound_pod, "a pod bound to the node")
        assert pod["spec"]["nodeName"] == node
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    finally:
        control_plane.admin_request("DELETE", f"/api/v1/nodes/{node}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def require_binaries() -> pathlib.Path:
    return control_plane_binaries_or_skip()


def test_stop_leaves_no_process_and_no_port(tmp_path: pathlib.Path) -> None:
    with ControlPlane(tmp_path, require_binaries()) as plane:
        pids = plane.pids()
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
        assert all(_alive(pid) for pid in pids.values())
    assert not [name for name, pid in pids.items() if _alive(pid)]
    with pytest.raises(urllib.error.URLError):
        plane.admin_request("GET", "/readyz")


def test_a_component_that_cannot_start_fails_with_its_log_and_stops_the_rest(tmp_path: pathlib.Path) -> None:
    plane = ControlPlane(tmp_path, require_binaries(), extra_apiserver_args=["--no-such-flag=1"])
    with pytest.raises(ControlPlaneError, match=r"(?s)kube-apiserver exited with code \d+.*no-such-flag"):
        plane.start()
    assert plane.pids() == {}
