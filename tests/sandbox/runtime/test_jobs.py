"""Run-to-completion pods (restartPolicy Never): Helm test pods running shell commands in tool images."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox.runtime.kube import PODS
from tests.sandbox.runtime.conftest import Cluster, eventually

REPO_ROOT = Path(__file__).resolve().parents[3]


def command_pod(name: str, script: str, image: str = "ghcr.io/flagman/loadtester:0.1.0") -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": image, "command": ["sh", "-c", script]}],
            },
        }
    )


@pytest.mark.parametrize(
    ("script", "phase", "exit_code"), [("echo hello", "Succeeded", 0), ("exit 3", "Failed", 3)]
)
async def test_command_pod_completes_with_its_exit_code(
    cluster: Cluster, script: str, phase: str, exit_code: int
) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=command_pod("job", script))

    async def finished() -> dict[str, object] | None:
        pod = await cluster.kube.get(PODS, "default", "job")
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = await eventually(finished, what="the pod to complete")
    assert pod["status"]["phase"] == phase
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == exit_code
    if exit_code == 0:
        assert "hello" in await cluster.kubectl("logs", "job")


async def test_tool_image_without_a_command_is_unknown(cluster: Cluster) -> None:
    manifest = json.loads(command_pod("idle", "true", image="busybox:1.36"))
    del manifest["spec"]["containers"][0]["command"]
    await cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    async def waiting() -> str:
        pod = await cluster.kube.get(PODS, "default", "idle")
        statuses = pod["status"].get("containerStatuses") or []
        return str(statuses[0]["state"]["waiting"]["reason"]) if statuses else ""

    assert await eventually(waiting, what="ErrImagePull") == "ErrImagePull"


@pytest.mark.timeout(120)
async def test_helm_test_of_the_podinfo_chart_passes(cluster: Cluster) -> None:
    """The chart's test pod gets and validates a token through the podinfo Service, as helm-tester does."""
    helm = REPO_ROOT / ".tools" / "bin" / "helm"
    if not helm.exists():
        pytest.skip("helm is not installed (make tools)")
    env = {**os.environ, **cluster.server.kubectl_env()}

    def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(helm), *args], capture_output=True, text=True, env=env, timeout=90)

    installed = await asyncio.to_thread(
        run_helm,
        "install",
        "podinfo",
        str(REPO_ROOT / "charts" / "podinfo"),
        "--set",
        "service.enabled=true",
        "--wait",
    )
    assert installed.returncode == 0, installed.stderr
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    tested = await asyncio.to_thread(run_helm, "test", "podinfo")
    logs = await cluster.kubectl("logs", "podinfo-test-token", check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr + logs
    assert "Succeeded" in tested.stdout
