"""Running `flagman demo` as `make demo` does, and the story both install paths must tell."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# Promotion of 3.1.1, then the rollback of 3.1.2 under HTTP 500s, in the tutorial's words; then the release
# control of docs/release-control.md with `kubectl flagman`.
STORY = (
    "Pre-rollout check smoke-test passed",
    "Advance podinfo.test canary iteration 3/3",
    "Promotion completed! Scaling down podinfo.test",
    "serves podinfo 3.1.1",
    "Rolling back podinfo.test failed checks threshold reached 2",
    "Canary failed! Scaling down podinfo.test",
    # kubectl flagman: abort, retry, promote; post-promotion analysis passed, then failed and rolled back.
    "Rolling back podinfo.test: abort requested by",
    "Retrying the analysis of podinfo.test requested by",
    "Promotion of podinfo.test requested by",
    "Post-promotion analysis of podinfo-primary.test iteration",
    "promotion done: http://podinfo.test:9898 serves podinfo 3.1.3",
    "Post-promotion analysis of podinfo-primary.test failed: rolling back to the previous version",
    "post-promotion rollback done: the traffic is back on podinfo 3.1.3",
    "Rollback of podinfo.test finished",
    "demo finished",
)


def run_demo(args: Sequence[str], *, timeout: float) -> str:
    """Run the demo on its own loopback block; return its output after asserting it exited 0."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "flagman", "demo", *args),
            *("--second-octet", str(random.randint(60, 250))),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        kept = keep_logs(args)
        where = f"\n(the demo's logs are kept in {kept})" if kept else ""
        assert result.returncode == 0, output[-6000:] + where
    return output


def keep_logs(args: Sequence[str]) -> Path | None:
    """Copy the failed demo's logs (controller, node agent, control plane, pods) under $FLAGMAN_ARTEFACTS,
    which CI keeps: a failure on CI's machine must be explainable afterwards."""
    if "--state-dir" not in args or not os.environ.get("FLAGMAN_ARTEFACTS"):
        return None
    state = Path(args[list(args).index("--state-dir") + 1])
    kept = Path(os.environ["FLAGMAN_ARTEFACTS"]) / f"demo-{state.parent.name}"
    for log in state.rglob("*.log"):
        target = kept / log.relative_to(state)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, target)
    return kept


def assert_told(output: str, lines: Sequence[str]) -> None:
    for line in lines:
        assert line in output, f"{line!r} missing from:\n{output[-6000:]}"
