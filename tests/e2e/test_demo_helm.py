"""`flagman demo --install helm`: the tutorial's `helm upgrade -i` of charts/flagman, then the same story.

The controller and the chart's Prometheus run as pods (`python -m controller` on its pod IP, the real
Prometheus with its pod discovery translated to a file), and the Canary's checks query that Prometheus.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_with_the_tutorials_helm_install_promotes_then_rolls_back() -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "flagman", "demo", "--install", "helm", "--iterations", "3"),
            *("--min-analysis-interval", "500ms", "--load-test-duration", "30s", "--timeout", "260"),
            *("--second-octet", str(random.randint(60, 250))),
        ],
        capture_output=True,
        text=True,
        timeout=290,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for line in (
        "helm upgrade -i flagger charts/flagman --namespace flagger",
        "--set prometheus.scrapeInterval=1s",
        'deployment "flagger" successfully rolled out',
        'deployment "flagger-prometheus" successfully rolled out',
        "Pre-rollout check smoke-test passed",
        "Advance podinfo.test canary iteration 3/3",
        "Promotion completed! Scaling down podinfo.test",
        "serves podinfo 3.1.1",
        "Rolling back podinfo.test failed checks threshold reached 2",
        "Canary failed! Scaling down podinfo.test",
        "demo finished",
    ):
        assert line in output, f"{line!r} missing from:\n{output[-6000:]}"
