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

from tests.e2e.story import STORY, assert_told, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_demo_promotes_then_rolls_back() -> None:
    output = run_demo(
        [
            *("--install", "process", "--interval", "500ms", "--iterations", "3"),
            *("--min-analysis-interval", "100ms", "--load-test-duration", "20s", "--timeout", "380"),
            *("--post-promotion-iterations", "10"),
        ],
        timeout=410,
    )
    assert_told(output, STORY)
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
