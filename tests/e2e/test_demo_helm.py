"""`flagman demo --install helm`: the tutorial's `helm upgrade -i` of charts/flagman, then the same story.

The controller and the chart's Prometheus run as pods (`python -m controller` on its pod IP, the real
Prometheus with its pod discovery translated to a file), and the Canary's checks query that Prometheus.
"""

from __future__ import annotations

import pytest

from tests.e2e.story import STORY, assert_told, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(460)]


def test_demo_with_the_tutorials_helm_install_promotes_then_rolls_back() -> None:
    output = run_demo(
        [
            *("--install", "helm", "--iterations", "3"),
            *("--min-analysis-interval", "500ms", "--load-test-duration", "30s", "--timeout", "400"),
        ],
        timeout=440,
    )
    assert_told(
        output,
        [
            "helm upgrade -i flagger charts/flagman --namespace flagger",
            "--set prometheus.scrapeInterval=1s",
            'deployment "flagger" successfully rolled out',
            'deployment "flagger-prometheus" successfully rolled out',
            *STORY,
        ],
    )
