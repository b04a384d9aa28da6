"""Flagger 1.44's label values and series, exactly: `deployment_strategy` and no `*_created` series."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api import Canary
from controller.telemetry import CanaryTelemetry, ControllerMetrics, deployment_strategy
from tests.controller.rollout.fakes import canary_body

MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]


def _canary(**analysis: Any) -> Canary:
    body = canary_body()
    body["spec"]["analysis"].pop("iterations", None)
    body["spec"]["analysis"].update(analysis)
    return Canary.from_dict(body)


@pytest.mark.parametrize(
    ("analysis", "strategy"),
    [
        ({"iterations": 10}, "blue-green"),
        ({"iterations": 10, "mirror": True}, "blue-green"),  # Flagger has no "blue-green-mirroring"
        ({"iterations": 10, "match": MATCH}, "ab-testing"),
        ({"match": MATCH}, "canary"),  # match without iterations is not A/B testing in Flagger
        ({"maxWeight": 50, "stepWeight": 10}, "canary"),
        ({}, "canary"),
    ],
)
def test_deployment_strategy_values_are_flaggers(analysis: dict[str, Any], strategy: str) -> None:
    assert deployment_strategy(_canary(**analysis)) == strategy


def test_counters_and_histograms_expose_no_created_series() -> None:
    metrics = ControllerMetrics()
    telemetry = CanaryTelemetry(metrics)
    canary = _canary(iterations=10)
    telemetry.promotion(canary, skipped=False)
    telemetry.failure(canary)
    telemetry.tick_duration(canary, 0.5)
    text = metrics.exposition().decode()
    assert (
        'flagger_canary_successes_total{analysis_status="completed",deployment_strategy="blue-green"' in text
    )
    assert "flagger_canary_duration_seconds_count" in text
    assert "_created" not in text
