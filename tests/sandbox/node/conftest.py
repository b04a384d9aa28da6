"""A real control plane with the node agent, once per session, plus helpers to drive it with kubectl.

Skips (or with FLAGMAN_REQUIRE_REAL_BACKEND=1 fails) without `make control-plane`'s binaries, and skips
when network namespaces cannot be made (not root, no iproute2).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sandbox.controlplane.testing import fresh_namespace
from sandbox.node.cluster import RealCluster
from tests.realbackend import node_binaries_or_skip

T = TypeVar("T")


@dataclass
class Node:
    cluster: RealCluster
    namespace: str

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            ["kubectl", f"--kubeconfig={self.cluster.kubeconfig}", "-n", self.namespace, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout + (result.stderr if not check else "")

    def get(self, kind: str, name: str = "") -> Any:
        return json.loads(self.kubectl("get", kind, *([name] if name else []), "-o", "json"))

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def pods(self, label: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            self.get("pods", "")["items"]
            if not label
            else json.loads(self.kubectl("get", "pods", "-l", label, "-o", "json"))["items"]
        )
        return items


def eventually(check: Callable[[], T | None], within: float = 60, what: str = "condition") -> T:
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {last}")


@pytest.fixture(scope="session")
def control_plane_binaries() -> Path:
    """Where `make control-plane` put the binaries; skips (or fails, see above) when a node cannot run."""
    return node_binaries_or_skip()


@pytest.fixture(scope="package")  # torn down once the node tests are done, not at the end of the run
def real_cluster(
    control_plane_binaries: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealCluster]:
    state = Path(tmp_path_factory.mktemp("real-node"))
    with RealCluster(state, control_plane_binaries) as cluster:
        yield cluster


@pytest.fixture
def node(real_cluster: RealCluster, request: pytest.FixtureRequest) -> Iterator[Node]:
    with fresh_namespace(real_cluster.plane, request.node.name) as namespace:
        yield Node(real_cluster, namespace)


def podinfo_deployment(name: str = "podinfo", replicas: int = 1, tag: str = "6.0.0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": f"ghcr.io/stefanprodan/podinfo:{tag}",
                            "command": ["./podinfo", "--port=9898"],
                            "ports": [{"name": "http", "containerPort": 9898}],
                            "readinessProbe": {
                                "exec": {"command": ["podcli", "check", "http", "localhost:9898/readyz"]},
                                "periodSeconds": 1,
                            },
                        }
                    ]
                },
            },
        },
    }


def service(name: str, port: int = 9898) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
    }


def tool_pod(name: str, script: str, image: str = "busybox:1.36", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": "main", "image": image, "command": ["sh", "-c", script]}],
            **spec,
        },
    }
