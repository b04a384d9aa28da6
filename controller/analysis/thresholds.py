"""Threshold evaluation and the Halt messages, worded and formatted exactly as Flagger's.

Each function returns ``None`` when the value passes, else the Halt message. The three kinds differ
on purpose, as in Flagger: the legacy ``threshold`` of ``request-success-rate`` is a minimum, of every
other metric a maximum; ``request-duration`` compares durations truncated to whole milliseconds and
prints them like Go's ``time.Duration`` (``1.515s``); values print with ``%.2f`` and limits with Go's
``%v`` (``99``, ``0.5``, ``1e+06``).
"""

from __future__ import annotations

from controller.analysis.gofmt import format_go_fixed, format_go_value
from controller.api.canary import Metric
from controller.api.durations import format_duration_ns

_NANOS_PER_MILLI = 1_000_000


def success_rate_halt(canary_key: str, value: float, metric: Metric) -> str | None:
    """``request-success-rate`` (percent): range min/max, else legacy ``threshold`` as a minimum."""
    shown = format_go_fixed(value)
    prefix = f"Halt {canary_key} advancement success rate"
    limits = metric.threshold_range
    if limits is not None:
        if limits.min is not None and value < limits.min:
            return f"{prefix} {shown}% < {format_go_value(limits.min)}%"
        if limits.max is not None and value > limits.max:
            return f"{prefix} {shown}% > {format_go_value(limits.max)}%"
        return None
    legacy = metric.threshold or 0.0
    if legacy > value:
        return f"{prefix} {shown}% < {format_go_value(legacy)}%"
    return None


def duration_halt(canary_key: str, value_millis: int, metric: Metric) -> str | None:
    """``request-duration``: the P99 in whole ms against limits in whole ms (Go truncation)."""
    value_ns = value_millis * _NANOS_PER_MILLI
    prefix = f"Halt {canary_key} advancement request duration"
    limits = metric.threshold_range
    if limits is not None:
        if limits.min is not None:
            minimum_ns = int(limits.min) * _NANOS_PER_MILLI
            if value_ns < minimum_ns:
                return f"{prefix} {format_duration_ns(value_ns)} < {format_duration_ns(minimum_ns)}"
        if limits.max is not None:
            maximum_ns = int(limits.max) * _NANOS_PER_MILLI
            if value_ns > maximum_ns:
                return f"{prefix} {format_duration_ns(value_ns)} > {format_duration_ns(maximum_ns)}"
        return None
    legacy_ns = int(metric.threshold or 0.0) * _NANOS_PER_MILLI
    if value_ns > legacy_ns:
        return f"{prefix} {format_duration_ns(value_ns)} > {format_duration_ns(legacy_ns)}"
    return None


def custom_metric_halt(canary_key: str, value: float, metric: Metric) -> str | None:
    """Inline-query and template metrics: range min/max, else legacy ``threshold`` as a maximum."""
    prefix = f"Halt {canary_key} advancement {metric.name} {format_go_fixed(value)}"
    limits = metric.threshold_range
    if limits is not None:
        if limits.min is not None and value < limits.min:
            return f"{prefix} < {format_go_value(limits.min)}"
        if limits.max is not None and value > limits.max:
            return f"{prefix} > {format_go_value(limits.max)}"
        return None
    legacy = metric.threshold or 0.0
    if value > legacy:
        return f"{prefix} > {format_go_value(legacy)}"
    return None
