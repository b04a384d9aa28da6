"""Go ``time.ParseDuration`` and ``time.Duration.String()`` compatibility."""

from __future__ import annotations

import pytest

from controller.api.durations import format_duration, format_duration_ns, parse_duration, parse_duration_ns
from controller.errors import DurationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1h2m3s", 3723.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("0", 0.0),
        ("-1m", -60.0),
        ("+2s", 2.0),
        ("100us", 0.0001),
        ("100\u00b5s", 0.0001),
        ("10ns", 1e-8),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "m", "1x", "abc", "1m-2s", ".s", "-"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1\u00b5s"),
        (250_000_000, "250ms"),
        (1_515_000_000, "1.515s"),
        (62_000_000_000, "1m2s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (9_000_500_000_000, "2h30m0.5s"),
        (-1_500_000_000, "-1.5s"),
        (2_200_000, "2.2ms"),
    ],
)
def test_format_like_go(nanos: int, text: str) -> None:
    assert format_duration_ns(nanos) == text


def test_round_trip() -> None:
    for text in ["1m30s", "250ms", "1.515s", "2h0m1s"]:
        assert format_duration_ns(parse_duration_ns(text)) == text
    assert format_duration(1.515) == "1.515s"
    assert format_duration(0.5) == "500ms"
