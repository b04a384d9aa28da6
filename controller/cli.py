"""`flagman controller [flags]` and `python -m controller`: Flagger's flags in, a running controller out."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from controller.settings import HelpRequested, Settings, SettingsError, parse_settings, usage
from controller.telemetry import VERSION

# Flagger's zap levels mapped to logging's.
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}


class ZapLikeJsonFormatter(JsonFormatter):
    """JSON lines shaped like Flagger's zap output: `level`, `ts`, `caller`, `msg`, plus `canary`."""

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["level"] = record.levelname.lower().replace("warning", "warn").replace("critical", "fatal")
        log_record["ts"] = record.created
        log_record["caller"] = f"{record.module}.py:{record.lineno}"
        log_record["msg"] = log_record.pop("message", record.getMessage())


class CanaryTextFormatter(logging.Formatter):
    """`--log-format text`: one readable line, with the canary when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        canary = getattr(record, "canary", None)
        return f"{line} canary={canary}" if canary else line


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(ZapLikeJsonFormatter("%(message)s"))
    else:
        handler.setFormatter(CanaryTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = _LEVELS.get(settings.log_level, logging.INFO)
    root.setLevel(level)
    # kopf and aiohttp are chatty at debug/info; keep their warnings.
    for noisy in ("kopf", "aiohttp.access", "kubernetes_asyncio", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    try:
        settings = parse_settings(
            list(sys.argv[1:] if argv is None else argv), os.environ if environ is None else environ
        )
    except HelpRequested:
        print(usage())
        return 0
    except SettingsError as error:
        print(f"flagman controller: {error}", file=sys.stderr)
        return 2
    if settings.version:
        print(VERSION)
        return 0
    configure_logging(settings)
    # the heavy imports (kopf, kubernetes_asyncio) only when running
    from controller.leader import LeaseTimings, LeaseTimingsError
    from controller.operator import run

    try:
        lease_timings = (
            LeaseTimings.from_environ(os.environ if environ is None else environ)
            if settings.enable_leader_election
            else None
        )
    except LeaseTimingsError as error:
        print(f"flagman controller: {error}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(settings, lease_timings))
    except KeyboardInterrupt:
        return 130
