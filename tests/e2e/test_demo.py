"""`flagman demo` end to end: sandbox, CRDs, kustomize installs, controller, promotion and rollback.

Runs the real command (as `make demo` does) with a sub-second analysis interval; the time goes into the
podinfo kustomization's own readiness delays (initialDelaySeconds 5, minReadySeconds 5) per rollout.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_demo_promotes_then_rolls_back() -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "flagman", "demo", "--install", "process"),
            *("--interval", "500ms", "--iterations", "3"),
            *("--min-analysis-interval", "100ms", "--load-test-duration", "20s", "--timeout", "200"),
            *("--second-octet", str(random.randint(60, 250))),
        ],
        capture_output=True,
        text=True,
        timeout=230,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for line in (
        "Pre-rollout check smoke-test passed",
        "Advance podinfo.test canary iteration 3/3",
        "Promotion completed! Scaling down podinfo.test",
        "serves podinfo 3.1.1",
        "Rolling back podinfo.test failed checks threshold reached 2",
        "Canary failed! Scaling down podinfo.test",
        "demo finished",
    ):
        assert line in output, f"{line!r} missing from:\n{output[-6000:]}"
    assert "Succeeded" in output and "Failed" in output


def test_demo_reports_bad_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flagman", "demo", "--iterations", "many"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "--iterations" in result.stderr


def test_demo_tears_down_when_interrupted() -> None:
    octet = str(random.randint(60, 250))
    demo = subprocess.Popen(
        [sys.executable, "-m", "flagman", "demo", "--second-octet", octet],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if "rollout status deployment/podinfo" in line or "successfully rolled out" in line:
            break
    demo.send_signal(signal.SIGTERM)
    output = "".join(lines) + demo.stdout.read()
    assert demo.wait(timeout=60) == 130, output[-3000:]
    assert "everything was torn down" in output
    leftovers = [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).count(f"127.{octet}.")
    ]
    assert not leftovers, [_cmdline(p) for p in leftovers]


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
