"""Go ``time.Duration`` parsing and formatting for the controller (the work is :mod:`goconv.durations`).

The parsers raise :class:`controller.errors.DurationError`, a :class:`FlagmanError`, so a bad duration in
a Canary is handled like every other controller error.
"""

from __future__ import annotations

from controller.errors import DurationError
from goconv import durations as go
from goconv.durations import format_duration, format_duration_ns

__all__ = ["format_duration", "format_duration_ns", "parse_duration", "parse_duration_ns"]


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration string into integer nanoseconds (``time.ParseDuration`` rules)."""
    try:
        return go.parse_duration_ns(text)
    except go.DurationError as error:
        raise DurationError(str(error)) from None


def parse_duration(text: str) -> float:
    """Parse a Go duration string into float seconds: ``parse_duration("1m30s") == 90.0``."""
    return parse_duration_ns(text) / 1e9
