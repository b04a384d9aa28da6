"""Serve the application until SIGTERM/SIGINT, then shut down gracefully.

On the first signal: stop accepting connections, stop the runner's scheduling, give in-flight requests
(blocking tests) up to the grace period, then kill every process group still running and exit 0.
A second signal exits at once with status 1, as in Flagger (after killing the commands' process groups).
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiohttp import web

from loadtester import logs
from loadtester.app import RUNNER, create_app
from loadtester.half_close import LoadTesterRunner
from loadtester.settings import VERSION, Settings


async def serve(settings: Settings) -> int:
    log = logs.logger()
    app = create_app(settings)
    runner = LoadTesterRunner(
        app, shutdown_timeout=settings.grace_period, access_log=None, handle_signals=False
    )
    await runner.setup()
    site = web.TCPSite(runner, host=settings.host or None, port=settings.port, reuse_address=True)
    try:
        await site.start()
    except OSError as error:
        log.critical("HTTP server crashed %s", error)
        await runner.cleanup()
        return 1
    log.info("Starting load tester v%s API on port %s", VERSION, settings.port)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals_seen = 0

    def on_signal() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            app[RUNNER].kill_process_groups()  # exit now, but leave no command behind
            os._exit(1)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    await stop.wait()
    log.info("shutting down: waiting up to %gs for in-flight requests", settings.grace_period)
    await runner.cleanup()
    log.info("HTTP server stopped")
    return 0
