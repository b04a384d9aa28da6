"""Log lines as Flagger's zap production logger writes them, so log queries written for Flagger work.

One JSON object per line: ``level`` (``debug info warn error fatal``), ``ts`` (seconds since the epoch as
a float, zap's default ``EpochTimeEncoder``: ``1733149000.123456``), ``caller`` (``file.py:line``),
``msg``, then every ``extra=`` field of the record (``canary``), and ``stacktrace`` for an exception.

Written by hand with ``json.dumps`` rather than with python-json-logger: the load tester logs two lines
per blocking request, and the generic formatter cost about 50 µs a line.
"""

from __future__ import annotations

import json
import logging
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


def level_name(levelno: int) -> str:
    """zap's name for a logging level (``WARNING`` -> ``warn``, ``CRITICAL`` -> ``fatal``)."""
    return _ZAP_NAMES.get(levelno) or logging.getLevelName(levelno).lower()


class ZapJsonFormatter(logging.Formatter):
    """``logging.Formatter`` writing zap's production JSON lines (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": level_name(record.levelno),
            "ts": record.created,
            "caller": f"{record.module}.py:{record.lineno}",
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
