"""Threshold evaluation and the Halt messages, worded and formatted exactly as Flagger's.

Each function returns ``None`` when the value passes, else the Halt message. The three kinds differ
on purpose, as in Flagger: the legacy ``threshold`` of ``request-success-rate`` is a minimum, of every
other metric a maximum; ``request-duration`` compares durations truncated to whole milliseconds and
prints them like Go's ``time.Duration`` (``1.515s``); values print with ``%.2f`` and limits with Go's
``%v`` (``99``, ``0.5``, ``1e+06``).
"""

from __future__ import annotations

from collections.abc import Callable

from controller.analysis.gofmt import format_go_fixed, format_go_value
from controller.api.canary import Metric
from controller.api.durations import format_duration_ns

_NANOS_PER_MILLI = 1_000_000


def success_rate_halt(canary_key: str, value: float, metric: Metric) -> str | None:
    """``request-success-rate`` (percent): range min/max, else legacy ``threshold`` as a minimum."""
    breach = _breach(value, metric, legacy_is_minimum=True)
    if breach is None:
        return None
    op, limit = breach
    return (
        f"Halt {canary_key} advancement success rate {format_go_fixed(value)}% {op} {format_go_value(limit)}%"
    )


def duration_halt(canary_key: str, value_millis: int, metric: Metric) -> str | None:
    """``request-duration``: the P99 in whole ms against limits in whole ms (Go truncation)."""
    value_ns = value_millis * _NANOS_PER_MILLI
    breach = _breach(value_ns, metric, legacy_is_minimum=False, unit=lambda ms: int(ms) * _NANOS_PER_MILLI)
    if breach is None:
        return None
    op, limit_ns = breach
    return (
        f"Halt {canary_key} advancement request duration "
        f"{format_duration_ns(value_ns)} {op} {format_duration_ns(int(limit_ns))}"
    )


def custom_metric_halt(canary_key: str, value: float, metric: Metric) -> str | None:
    """Inline-query and template metrics: range min/max, else legacy ``threshold`` as a maximum."""
    breach = _breach(value, metric, legacy_is_minimum=False)
    if breach is None:
        return None
    op, limit = breach
    return (
        f"Halt {canary_key} advancement {metric.name} {format_go_fixed(value)} {op} {format_go_value(limit)}"
    )


def _breach(
    value: float, metric: Metric, *, legacy_is_minimum: bool, unit: Callable[[float], float] = float
) -> tuple[str, float] | None:
    """The limit ``value`` breaks, as ``("<", min)`` or ``(">", max)``; None when it passes.

    ``thresholdRange`` wins; without it the legacy ``threshold`` is a minimum or a maximum. ``unit``
    converts a limit into the units of ``value``.
    """
    limits = metric.threshold_range
    if limits is not None:
        if limits.min is not None and value < (low := unit(limits.min)):
            return "<", low
        if limits.max is not None and value > (high := unit(limits.max)):
            return ">", high
        return None
    legacy = unit(metric.threshold or 0.0)
    if legacy_is_minimum:
        return ("<", legacy) if value < legacy else None
    return (">", legacy) if value > legacy else None
