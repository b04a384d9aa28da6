"""`flagman sandbox up --control-plane=real` / status / kubeconfig / down, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.controlplane.testing import availability

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def flagman(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagman", *args], capture_output=True, text=True, timeout=330, env=env
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_up_status_kubeconfig_down(tmp_path: Path) -> None:
    found = availability()
    if found.binaries is None:
        if found.required:
            pytest.fail(found.reason, pytrace=False)
        pytest.skip(found.reason)
    state = ["--state-dir", str(tmp_path / "sandbox")]
    started = flagman("sandbox", "up", "--control-plane=real", *state)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "kube-apiserver ready" in started.stdout  # progress shown while it starts
        assert "control plane: real Kubernetes v1." in started.stdout
        kubeconfig = flagman("sandbox", "kubeconfig", *state).stdout.strip()
        assert kubeconfig == str(tmp_path / "sandbox" / "kubeconfig")
        status = flagman("sandbox", "status", *state)
        record = json.loads(status.stdout)
        assert record["control_plane"] == "real" and record["apiserver"].startswith("https://127.0.0.1:")
        pids = record["pids"]
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        nodes = subprocess.run(
            ["kubectl", "get", "namespaces", "-o", "name"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert nodes.returncode == 0 and "namespace/kube-system" in nodes.stdout, nodes.stderr
        again = flagman("sandbox", "up", "--control-plane=real", *state)
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        stopped = flagman("sandbox", "down", *state)
    assert stopped.returncode == 0 and "sandbox stopped" in stopped.stdout, stopped.stderr
    assert not [name for name, pid in pids.items() if _alive(pid)]
    assert flagman("sandbox", "status", *state).returncode == 3


def test_up_without_binaries_says_how_to_get_them(tmp_path: Path) -> None:
    env = {**os.environ, "FLAGMAN_CONTROL_PLANE_DIR": str(tmp_path / "none")}
    result = flagman("sandbox", "up", "--control-plane=real", "--state-dir", str(tmp_path / "s"), env=env)
    assert result.returncode == 1
    assert "make control-plane" in result.stderr and "kube-apiserver" in result.stderr
