"""Logging: JSON lines on stderr like Flagger's zap production logger (`level`, `ts`, `caller`, `msg`,
`canary`), or a console form with `-zap-encoding=console` / `--log-format=text`."""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

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


class ZapStyleJsonFormatter(JsonFormatter):
    """Field names and values as zap writes them, so log queries written for Flagger keep working."""

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["level"] = _ZAP_LEVEL_NAMES.get(record.levelno, record.levelname.lower())
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        log_record["ts"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        log_record["caller"] = f"{record.module}.py:{record.lineno}"
        log_record["msg"] = record.getMessage()
        log_record.pop("message", None)


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
        handler.setFormatter(ZapStyleJsonFormatter(reserved_attrs=[*_RESERVED]))
    target.addHandler(handler)
    target.setLevel(_LEVELS.get(level, logging.INFO))
    target.propagate = False


# LogRecord attributes that must not leak into the JSON line (everything but our `extra` fields).
_RESERVED = (
    "args",
    "asctime",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "levelname",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "message",
    "msg",
    "name",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "stack_info",
    "taskName",
    "thread",
    "threadName",
)
