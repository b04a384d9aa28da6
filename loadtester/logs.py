"""Logging: JSON lines on stderr like Flagger's zap production logger (`level`, `ts`, `caller`, `msg`,
plus extra fields such as `canary`), or a console form with `-zap-encoding=console` / `--log-format=text`.

The JSON formatter is a few lines of our own rather than python-json-logger's: it runs for every
blocking request (two lines each), and the generic formatter cost about 50 µs a line — a tenth of the
whole request budget of a `bash true` test.
"""

from __future__ import annotations

import json
import logging
import sys
import time

LOGGER_NAME = "loadtester"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
_ZAP_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class ZapStyleJsonFormatter(logging.Formatter):
    """Field names and values as zap writes them, so log queries written for Flagger keep working."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        entry = {
            "level": _ZAP_LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "caller": f"{record.module}.py:{record.lineno}",
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


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
        handler.setFormatter(ZapStyleJsonFormatter())
    target.addHandler(handler)
    target.setLevel(_LEVELS.get(level, logging.INFO))
    target.propagate = False
