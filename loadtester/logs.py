"""Logging: JSON lines on stderr as Flagger's zap logger writes them (`level`, `ts`, `caller`, `msg`, plus
extra fields such as `canary`), or a console form with `-zap-encoding=console` / `--log-format=text`.

The lines are goconv's zap lines (`"ts":"2025-01-13T12:01:25.594Z"`, as Flagger's `pkg/logger` writes
them), so log queries written for Flagger's load tester keep working.
"""

from __future__ import annotations

import logging
import sys

from goconv.zap import LEVELS, ZapJsonFormatter

LOGGER_NAME = "loadtester"


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
        handler.setFormatter(ZapJsonFormatter())
    target.addHandler(handler)
    target.setLevel(LEVELS.get(level, logging.INFO))
    target.propagate = False
