"""Log lines as Flagger's zap production logger writes them, so log queries written for Flagger work.

One JSON object per line: ``level`` (``debug info warn error fatal``), ``ts`` (UTC ISO-8601 with
milliseconds, ``2025-01-13T12:01:25.594Z``: Flagger's ``pkg/logger`` configures zap with
``ISO8601TimeEncoder``), ``caller`` (``file.py:line``),
``msg``, then every ``extra=`` field of the record (``canary``), and ``stacktrace`` for an exception.

Written by hand with ``json.dumps`` rather than with python-json-logger: the load tester logs two lines
per blocking request, and the generic formatter cost about 50 µs a line.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Final

LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
"""Flagger's ``-log-level`` names (zap's, plus ``warning``) -> logging levels."""

_ZAP_NAMES: Final = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def iso8601(created: float) -> str:
    """zap's ISO8601TimeEncoder in UTC: ``2025-01-13T12:01:25.594Z``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1000):03d}Z"


def level_name(levelno: int) -> str:
    """zap's name for a logging level (``WARNING`` -> ``warn``, ``CRITICAL`` -> ``fatal``)."""
    return _ZAP_NAMES.get(levelno) or logging.getLevelName(levelno).lower()


class ZapJsonFormatter(logging.Formatter):
    """``logging.Formatter`` writing zap's production JSON lines (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": level_name(record.levelno),
            "ts": iso8601(record.created),
            "caller": f"{record.module}.py:{record.lineno}",
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
