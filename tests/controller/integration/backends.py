"""The two API servers the integration scenarios run against.

- `emulator`: the sandbox API server, fresh per test; namespace `test`; the controller uses the same
  anonymous kubeconfig as the harness; `RolloutSimulator` writes Deployment status.
- `real`: the session's real control plane (tests/conftest.py `control_plane`); a fresh namespace per
  test; the CRDs applied once; the controller authenticates as the chart's ServiceAccount (its RBAC
  rendered with `helm template` and applied, its token from the TokenRequest API), so the real RBAC
  authorizer decides what it may do; `NodeSimulator` plays the node the scheduler binds Pods to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from sandbox.apiserver.testing import ApiServer, run_kubectl_args
from sandbox.controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[3]
CRD_FILE = REPO / "kustomize" / "base" / "flagman" / "crd.yaml"
CHART = REPO / "charts" / "flagman"
CONTROLLER_NAMESPACE = "flagman-system"
RELEASE = "flagman"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
TOKEN_SECONDS = 24 * 3600


class Rollouts(Protocol):
    """What makes Deployments roll out: `RolloutSimulator` (emulator) or `NodeSimulator` (real)."""

    slow: dict[str, float]
    stuck: set[str]

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def refresh(self, name: str, namespace: str = ...) -> None: ...


def run(
    argv: list[str], env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, input=stdin)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def helm_binary() -> str:
    local = REPO / ".tools" / "bin" / "helm"
    found = str(local) if local.is_file() else shutil.which("helm")
    if found is None:
        raise AssertionError(
            "helm is needed to render the chart's RBAC for the real backend: run `make tools`"
        )
    return found


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("KUBECONFIG")}


@dataclass
class RealCluster:
    """The session's control plane, prepared once: CRDs, the chart's RBAC, the controller's token."""

    plane: ControlPlane
    controller_kubeconfig: Path
    service_account: str
    crd_apply_output: str = field(default="", repr=False)

    def kubectl_argv(self, *args: str) -> list[str]:
        cache = self.plane.workdir / "kube-cache"
        return ["kubectl", f"--kubeconfig={self.plane.admin_kubeconfig}", f"--cache-dir={cache}", *args]


def rendered_rbac() -> list[dict[str, Any]]:
    """The chart's ServiceAccount and RBAC objects, as `helm template` renders them with default values."""
    rendered = run(
        [helm_binary(), "template", RELEASE, str(CHART), "--namespace", CONTROLLER_NAMESPACE]
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc and doc.get("kind") in RBAC_KINDS]


def prepare_real_cluster(plane: ControlPlane) -> RealCluster:
    env = _clean_env()
    cluster = RealCluster(plane, plane.workdir / "kubeconfigs" / "controller.kubeconfig", "")
    applied = run(cluster.kubectl_argv("apply", "-f", str(CRD_FILE)), env=env)
    cluster.crd_apply_output = applied.stdout + applied.stderr
    run(
        cluster.kubectl_argv(
            "wait", "--for=condition=Established", "--timeout=60s",
            "crd/canaries.flagger.app", "crd/metrictemplates.flagger.app", "crd/alertproviders.flagger.app",
        ),
        env=env,
    )  # fmt: skip
    run(cluster.kubectl_argv("create", "namespace", CONTROLLER_NAMESPACE), env=env)
    rbac = rendered_rbac()
    run(cluster.kubectl_argv("apply", "-f", "-"), env=env, stdin=yaml.safe_dump_all(rbac))
    account = next(doc for doc in rbac if doc["kind"] == "ServiceAccount")["metadata"]["name"]
    cluster.service_account = f"{CONTROLLER_NAMESPACE}:{account}"
    token = plane.admin_request(
        "POST",
        f"/api/v1/namespaces/{CONTROLLER_NAMESPACE}/serviceaccounts/{account}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": TOKEN_SECONDS}},
    )["status"]["token"]  # fmt: skip
    plane.kubeconfig_for(token, cluster.controller_kubeconfig)
    return cluster


@dataclass
class Target:
    """Where one test runs: which server, which namespace, which credentials."""

    name: str
    namespace: str
    admin_kubeconfig: str
    controller_kubeconfig: str
    server: ApiServer | None = field(default=None, repr=False)
    cluster: RealCluster | None = field(default=None, repr=False)

    @classmethod
    def emulator(cls, server: ApiServer) -> Target:
        return cls("emulator", "test", server.kubeconfig, server.kubeconfig, server=server)

    @classmethod
    def real(cls, cluster: RealCluster, namespace: str) -> Target:
        admin = str(cluster.plane.admin_kubeconfig)
        return cls("real", namespace, admin, str(cluster.controller_kubeconfig), cluster=cluster)

    def kubectl(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment of a real `kubectl` run as the admin against this target."""
        if self.server is not None:
            env = {**self.server.kubectl_env(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            return ["kubectl", *run_kubectl_args(self.server, *args)], env
        assert self.cluster is not None
        return self.cluster.kubectl_argv(*args), _clean_env()
