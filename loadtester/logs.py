"""Logging: JSON lines on stderr as Flagger's zap logger writes them (`level`, `ts`, `caller`, `msg`, plus
extra fields such as `canary`), or a console form with `-zap-encoding=console` / `--log-format=text`.

The lines are goconv's zap lines with one difference, `ts`: Flagger's logger (`pkg/logger`) configures
zap with `ISO8601TimeEncoder`, so its lines say `"ts":"2025-01-13T12:01:25.594Z"` where goconv writes
zap's default float epoch seconds. Log queries written for Flagger's load tester keep working.
"""

from __future__ import annotations

import logging
import sys
import time

from goconv.zap import LEVELS, ZapJsonFormatter

LOGGER_NAME = "loadtester"


def iso8601(created: float) -> str:
    """zap's ISO8601TimeEncoder in UTC: `2025-01-13T12:01:25.594Z`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1000):03d}Z"


class FlaggerJsonFormatter(ZapJsonFormatter):
    """goconv's zap JSON lines with Flagger's ISO-8601 `ts`."""

    def format(self, record: logging.LogRecord) -> str:
        # goconv writes a record's extra fields after its own keys, so a `ts` extra replaces the float
        # in its place (tests/loadtester/test_logs.py holds the shape).
        record.ts = iso8601(record.created)
        return super().format(record)


def logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure(level: str, encoding: str) -> None:
    """Install one stderr handler on the load tester's logger (idempotent)."""
    target = logger()
    for handler in list(target.handlers):
        target.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if encoding == "console":
        handler.setFormatter(logging.Formatter("%(asctime)s\t%(levelname)s\t%(message)s"))
    else:
        handler.setFormatter(FlaggerJsonFormatter())
    target.addHandler(handler)
    target.setLevel(LEVELS.get(level, logging.INFO))
    target.propagate = False
