"""`flagman controller [flags]` and `python -m controller`: Flagger's flags in, a running controller out."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from controller.settings import Settings, parse_command_line
from controller.telemetry import VERSION
from controller.version import REVISION
from goconv.zap import LEVELS, ZapJsonFormatter


class CanaryTextFormatter(logging.Formatter):
    """`--log-format text`: one readable line, with the canary when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        canary = getattr(record, "canary", None)
        return f"{line} canary={canary}" if canary else line


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(ZapJsonFormatter())
    else:
        handler.setFormatter(CanaryTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = LEVELS.get(settings.log_level, logging.INFO)
    root.setLevel(level)
    # kopf (not used by the controller any more, but importable) and aiohttp are chatty at debug/info.
    for noisy in ("kopf", "aiohttp.access", "kubernetes_asyncio", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    settings = parse_command_line(argv, environ)
    if isinstance(settings, int):
        return settings
    if settings.version:
        # Flagger's `fmt.Println("Flagger version", VERSION, "revision ", REVISION)`, word for word in
        # shape (the double space included), so scripts that cut fields keep working.
        print(f"Flagman version {VERSION} revision  {REVISION}")
        return 0
    configure_logging(settings)
    # the heavy imports (kubernetes_asyncio) only when running
    from controller.leader import LeaseTimings, LeaseTimingsError
    from controller.operator import run, shard_timings
    from controller.sharding.timings import ShardTimingsError

    try:
        lease_timings = (
            LeaseTimings.from_environ(os.environ if environ is None else environ)
            if settings.enable_leader_election
            else None
        )
        if settings.enable_sharding:
            shard_timings(settings)  # refused before any connection attempt
    except (LeaseTimingsError, ShardTimingsError) as error:
        print(f"flagman controller: {error}", file=sys.stderr)
        return 2
    from controller.gcpolicy import tune_for_long_running

    tune_for_long_running()
    try:
        return asyncio.run(run(settings, lease_timings))
    except KeyboardInterrupt:
        return 130
