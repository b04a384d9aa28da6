"""`flagman loadtester [flags]` and `python -m loadtester [flags]`."""

from __future__ import annotations

import asyncio
import os
import sys

from loadtester import logs
from loadtester.settings import HelpRequested, SettingsError, parse_settings, usage


def main(argv: list[str]) -> int:
    try:
        settings = parse_settings(argv, os.environ)
    except HelpRequested:
        print(usage(), file=sys.stderr)
        return 0
    except SettingsError as error:
        print(f"{error}\n{usage()}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.zap_encoding)
    if settings.log_level_given not in ("debug", "info", "warn", "warning", "error", "fatal", "panic"):
        logs.logger().warning("unknown log level %r, using info", settings.log_level_given)
    from loadtester.server import serve  # imported late: flag errors answer without loading aiohttp

    return asyncio.run(serve(settings))
