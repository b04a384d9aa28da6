"""Go ``time.Duration`` parsing and formatting.

Flagger's CRDs carry durations as Go duration strings (``30s``, ``1m``, ``1m30s``), its flags take them
(``-timeout=1h30m``), and its messages format durations with ``time.Duration.String()`` (``1.515s``,
``250ms``, ``1h0m0s``). Both directions work on integer nanoseconds, as Go does, so round trips are exact.
"""

from __future__ import annotations

import re


class DurationError(ValueError):
    """A string is not a valid Go ``time.Duration``; the message is Go's own."""


_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_COMPONENT = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_MAX_NANOS = (1 << 63) - 1


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration string into integer nanoseconds (``time.ParseDuration`` rules)."""
    original = text
    if not isinstance(text, str) or not text:
        raise DurationError(f'time: invalid duration "{original}"')
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationError(f'time: invalid duration "{original}"')
    total = 0
    position = 0
    while position < len(text):
        match = _COMPONENT.match(text, position)
        if match is None:
            raise DurationError(f'time: invalid duration "{original}"')
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction:
            # Go accepts "1.s" and ".5s" but not a bare unit.
            raise DurationError(f'time: invalid duration "{original}"')
        if unit not in _NANOS_PER_UNIT:
            raise DurationError(f'time: unknown unit "{unit}" in duration "{original}"')
        scale = _NANOS_PER_UNIT[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // (10 ** len(fraction))
        if total > _MAX_NANOS:
            raise DurationError(f'time: invalid duration "{original}"')
        position = match.end()
    return sign * total


def parse_duration(text: str) -> float:
    """Parse a Go duration string into float seconds: ``parse_duration("1m30s") == 90.0``."""
    return parse_duration_ns(text) / 1e9


def _format_fraction(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: the fractional digits of ``value / 10**precision`` without trailing zeros."""
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format_duration_ns(nanos: int) -> str:
    """Format integer nanoseconds exactly like Go's ``time.Duration.String()``."""
    negative = nanos < 0
    magnitude = -nanos if negative else nanos
    if magnitude < 1_000_000_000:
        if magnitude == 0:
            return "0s"
        if magnitude < 1_000:
            text = f"{magnitude}ns"
        elif magnitude < 1_000_000:
            fraction, whole = _format_fraction(magnitude, 3)
            text = f"{whole}{fraction}\u00b5s"
        else:
            fraction, whole = _format_fraction(magnitude, 6)
            text = f"{whole}{fraction}ms"
    else:
        fraction, seconds_total = _format_fraction(magnitude, 9)
        text = f"{seconds_total % 60}{fraction}s"
        minutes_total = seconds_total // 60
        if minutes_total > 0:
            text = f"{minutes_total % 60}m" + text
            hours = minutes_total // 60
            if hours > 0:
                text = f"{hours}h" + text
    return "-" + text if negative else text


def format_duration(seconds: float) -> str:
    """Format float seconds like Go's ``time.Duration.String()``: ``format_duration(90) == "1m30s"``."""
    return format_duration_ns(round(seconds * 1e9))
