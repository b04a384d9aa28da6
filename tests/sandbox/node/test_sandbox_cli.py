"""`flagman sandbox up --control-plane=real`, then `down` mid-rollout: nothing left running or mounted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.node.cluster import network_prefix
from sandbox.node.netns import existing
from tests.e2e.test_demo_real import processes_mentioning
from tests.sandbox.node.conftest import podinfo_deployment, service

pytestmark = pytest.mark.timeout(240)


def flagman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "flagman", "sandbox", *args], capture_output=True, text=True, timeout=180
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_up_serves_a_node_and_down_during_a_rollout_leaves_nothing(
    real_cluster: object, tmp_path: Path
) -> None:
    # `real_cluster` only for its skip conditions (binaries, root); this test starts a sandbox of its own
    state = tmp_path / "sandbox"
    up = flagman("up", "--control-plane=real", "--state-dir", str(state))
    assert "node:          flagman-node" in up.stdout
    env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig")}

    def kubectl(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    try:
        kubectl("apply", "-f", "-", stdin=json.dumps(podinfo_deployment(replicas=2)))
        kubectl("apply", "-f", "-", stdin=json.dumps(service("podinfo")))
        kubectl("rollout", "status", "deployment/podinfo", "--timeout=90s")
        inside = flagman(
            "exec",
            "--state-dir",
            str(state),
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            "http://podinfo.default:9898/version",
        )
        assert "6.0.0" in inside.stdout
        kubectl("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")
    finally:
        down = flagman("down", "--state-dir", str(state), check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not processes_mentioning(str(state))
    assert not existing(network_prefix(state))
    mounts = Path("/proc/mounts").read_text()
    assert str(state) not in mounts
    assert flagman("status", "--state-dir", str(state), check=False).returncode == 3
