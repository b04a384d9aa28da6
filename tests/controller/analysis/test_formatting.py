"""Go number formatting and the Halt messages (``69.17% < 99%``, ``1.515s``, ``6.20 > 5``)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.analysis.gofmt import format_go_fixed, format_go_value
from controller.analysis.thresholds import custom_metric_halt, duration_halt, success_rate_halt
from controller.api.canary import Metric, ThresholdRange


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (99.0, "99"),
        (0.5, "0.5"),
        (5.0, "5"),
        (-3.0, "-3"),
        (0.0, "0"),
        (99.95, "99.95"),
        (123456.0, "123456"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (0.1 + 0.2, "0.30000000000000004"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
    ],
)
def test_go_value_formatting_matches_fmt_v(value: float, expected: str) -> None:
    assert format_go_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(69.1666, "69.17"), (6.2, "6.20"), (0.125, "0.12"), (0.375, "0.38"), (100.0, "100.00")],
)
def test_go_fixed_formatting(value: float, expected: str) -> None:
    assert format_go_fixed(value) == expected


def metric(name: str, **fields: Any) -> Metric:
    threshold_range = fields.pop("threshold_range", None)
    return Metric(
        name=name, threshold_range=ThresholdRange(**threshold_range) if threshold_range else None, **fields
    )


def test_success_rate_below_min_is_the_tutorials_message() -> None:
    message = success_rate_halt(
        "podinfo.test", 69.1666, metric("request-success-rate", threshold_range={"min": 99})
    )
    assert message == "Halt podinfo.test advancement success rate 69.17% < 99%"


def test_success_rate_above_max_and_within_range() -> None:
    rate = metric("request-success-rate", threshold_range={"min": 90, "max": 99.5})
    assert success_rate_halt("p.t", 99.9, rate) == "Halt p.t advancement success rate 99.90% > 99.5%"
    assert success_rate_halt("p.t", 95.0, rate) is None
    assert success_rate_halt("p.t", 90.0, rate) is None  # the bound itself passes


def test_success_rate_legacy_threshold_is_a_minimum() -> None:
    legacy = metric("request-success-rate", threshold=99.0)
    assert success_rate_halt("p.t", 98.0, legacy) == "Halt p.t advancement success rate 98.00% < 99%"
    assert success_rate_halt("p.t", 99.5, legacy) is None
    assert success_rate_halt("p.t", 0.0, metric("request-success-rate")) is None  # no threshold passes all


def test_duration_messages_use_go_duration_formatting() -> None:
    limit = metric("request-duration", threshold_range={"max": 500})
    assert (
        duration_halt("podinfo.test", 1515, limit)
        == "Halt podinfo.test advancement request duration 1.515s > 500ms"
    )
    assert duration_halt("podinfo.test", 500, limit) is None
    assert duration_halt("p.t", 62000, limit) == "Halt p.t advancement request duration 1m2s > 500ms"
    floor = metric("request-duration", threshold_range={"min": 250.9})
    assert duration_halt("p.t", 0, floor) == "Halt p.t advancement request duration 0s < 250ms"


def test_duration_legacy_threshold_is_a_maximum_and_missing_threshold_fails_any_positive_value() -> None:
    assert duration_halt("p.t", 501, metric("request-duration", threshold=500.0)) == (
        "Halt p.t advancement request duration 501ms > 500ms"
    )
    assert (
        duration_halt("p.t", 1, metric("request-duration"))
        == "Halt p.t advancement request duration 1ms > 0s"
    )
    assert duration_halt("p.t", 0, metric("request-duration")) is None


def test_custom_metric_messages_are_the_tutorials() -> None:
    not_found = metric("404s percentage", threshold_range={"max": 5})
    assert (
        custom_metric_halt("podinfo.test", 6.2, not_found)
        == "Halt podinfo.test advancement 404s percentage 6.20 > 5"
    )
    assert custom_metric_halt("podinfo.test", 6.45, not_found) == (
        "Halt podinfo.test advancement 404s percentage 6.45 > 5"
    )
    assert custom_metric_halt("podinfo.test", 5.0, not_found) is None
    floor = metric("rps", threshold_range={"min": 0.5})
    assert custom_metric_halt("p.t", 0.25, floor) == "Halt p.t advancement rps 0.25 < 0.5"


def test_custom_metric_legacy_threshold_is_a_maximum() -> None:
    assert (
        custom_metric_halt("p.t", 1e7, metric("m", threshold=1e6))
        == "Halt p.t advancement m 10000000.00 > 1e+06"
    )
    assert custom_metric_halt("p.t", 0.5, metric("m", threshold=1.0)) is None
    assert custom_metric_halt("p.t", 0.01, metric("m")) == "Halt p.t advancement m 0.01 > 0"
