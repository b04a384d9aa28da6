"""`flagman sandbox up|status|kubeconfig|exec|down` as a user runs them, with real kubectl."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sandbox.runtime.test_deployments import podinfo_deployment
from tests.sandbox.runtime.test_services import SERVICE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def flagman(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagman", *args], capture_output=True, text=True, timeout=90, env=env
    )


def processes_with(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


def test_up_exec_down(tmp_path: Path) -> None:
    octet = str(random.randint(60, 250))
    common = ["--state-dir", str(tmp_path / "sandbox"), "--second-octet", octet]
    started = flagman("sandbox", "up", *common)
    try:
        assert started.returncode == 0, started.stderr
        assert "export KUBECONFIG=" in started.stdout
        kubeconfig = flagman("sandbox", "kubeconfig", *common).stdout.strip()
        status = flagman("sandbox", "status", *common)
        assert (
            status.returncode == 0
            and json.loads(status.stdout)["apiserver"] == f"http://127.{octet}.0.1:6443"
        )
        env = {**os.environ, "KUBECONFIG": kubeconfig}

        def kubectl(*args: str, stdin: str | None = None) -> str:
            result = subprocess.run(
                ["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        kubectl("apply", "-f", "-", stdin=SERVICE)
        kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1, tag="3.1.1"))
        kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
        assert processes_with(f"--host 127.{octet}.")

        deadline = time.monotonic() + 20
        while True:
            inside = flagman(
                "sandbox", "exec", *common, "--", "curl", "-sf", "http://podinfo.default:9898/version"
            )
            if inside.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert inside.returncode == 0, inside.stderr
        assert json.loads(inside.stdout)["version"] == "3.1.1"
        prometheus = flagman(
            "sandbox", "exec", *common, "--", "curl", "-sf", "http://flagger-prometheus.flagger:9090/-/ready"
        )
        assert prometheus.returncode == 0, prometheus.stderr
        again = flagman("sandbox", "up", *common)
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        stopped = flagman("sandbox", "down", *common)
    assert stopped.returncode == 0, stopped.stderr
    assert flagman("sandbox", "status", *common).returncode == 3
    assert not processes_with(f"--host 127.{octet}."), "pod processes outlive the sandbox"
    assert not processes_with(f"127.{octet}.0.9:9090"), "prometheus outlives the sandbox"


HELM = Path(__file__).resolve().parents[3] / ".tools" / "bin" / "helm"
CHART = Path(__file__).resolve().parents[3] / "charts" / "flagman"


def test_up_without_prometheus_leaves_flagger_prometheus_to_the_tutorials_helm_install(
    tmp_path: Path,
) -> None:
    octet = str(random.randint(60, 250))
    state_dir = tmp_path / "sandbox"
    common = ["--state-dir", str(state_dir), "--second-octet", octet]
    started = flagman("sandbox", "up", "--no-prometheus", *common)
    try:
        assert started.returncode == 0, started.stderr
        assert "prometheus: none (--no-prometheus" in started.stdout
        assert json.loads(flagman("sandbox", "status", *common).stdout)["prometheus"] is None
        assert not processes_with(f"--config.file={state_dir}"), "a Prometheus runs despite --no-prometheus"
        env = {**os.environ, "KUBECONFIG": flagman("sandbox", "kubeconfig", *common).stdout.strip()}

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=90)

        services = run("kubectl", "get", "services", "--all-namespaces", "-o", "name")
        assert services.returncode == 0, services.stderr
        assert "flagger-prometheus" not in services.stdout

        # the tutorial's command, by hand: its chart creates the Service the sandbox left out
        helm_home = tmp_path / "helm"
        installed = subprocess.run(
            [
                *(str(HELM), "upgrade", "-i", "flagger", str(CHART), "--namespace", "flagger"),
                *(
                    "--create-namespace",
                    "--set",
                    "prometheus.install=true",
                    "--set",
                    "meshProvider=kubernetes",
                ),
            ],
            capture_output=True,
            text=True,
            timeout=90,
            env={
                **env,
                **{f"HELM_{kind}_HOME": str(helm_home / kind) for kind in ("CACHE", "CONFIG", "DATA")},
            },
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        service = run("kubectl", "-n", "flagger", "get", "service", "flagger-prometheus", "-o", "json")
        assert service.returncode == 0, service.stderr
        assert json.loads(service.stdout)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        rollout = run("kubectl", "-n", "flagger", "rollout", "status", "deployment/flagger-prometheus")
        assert rollout.returncode == 0, rollout.stderr
        deadline = time.monotonic() + 30
        while True:
            ready = flagman(
                "sandbox",
                "exec",
                *common,
                "--",
                "curl",
                "-sf",
                "http://flagger-prometheus.flagger:9090/-/ready",
            )
            if ready.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert ready.returncode == 0, ready.stderr  # the chart's Prometheus pod, behind the chart's Service
    finally:
        stopped = flagman("sandbox", "down", *common)
    assert stopped.returncode == 0, stopped.stderr
    assert not processes_with(f"--host 127.{octet}."), "pod processes outlive the sandbox"
    assert not processes_with(str(state_dir)), "processes outlive the sandbox"
