"""The operator: runs the canary loops while this process may act, with leader election when asked.

The loops follow the Canary watch cache (`controller.scheduler.Scheduler.on_canary_event`): one watch
feeds the cache the ticks read and the loops, so every status write is decoded once. The rest of the
process is built by `controller.wiring` (the adapters, the scheduler, the health/metrics server) and run
here, with leader election when asked (`controller.leader`).

Signals: while the loops run, this module owns SIGINT/SIGTERM (on the main thread); on a signal it stops
the canary loops, then their dependencies in order. With leader election, `controller.leader` owns them
while it follows and while it releases the Lease, and this module while it leads: one owner at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from controller.errors import FlagmanError
from controller.leader import LeaseElector, LeaseTimings, candidate_identity, lead
from controller.settings import Settings
from controller.telemetry import VERSION
from controller.wiring import Controller

logger = logging.getLogger("controller")


async def run(settings: Settings, lease_timings: LeaseTimings | None = None) -> int:
    """Run the controller until SIGTERM/SIGINT or a fatal error; return the exit code.

    With `-enable-leader-election` the caches and the health/metrics server start at once, but the
    operator runs only while this replica holds the Lease (`controller.leader`)."""
    try:
        controller = await Controller.start(settings)
    except (FlagmanError, OSError) as error:
        logger.error("controller cannot start: %s", error)
        return 1
    logger.info(
        "Flagman controller %s started (mesh provider %s, namespace %s)",
        VERSION,
        settings.mesh_provider,
        settings.namespace or "all",
    )
    try:
        if not settings.enable_leader_election:
            await _operate(controller, settings)
            return 0
        elector = LeaseElector(
            controller.api,
            settings.leader_election_lease_namespace,
            candidate_identity(),
            lease_timings or LeaseTimings(),
        )
        return await lead(elector, lambda: _operate(controller, settings))
    finally:
        await controller.stop()
        logger.info("controller stopped")


async def _operate(controller: Controller, settings: Settings) -> None:
    """The canary loops and the sweep, until SIGTERM/SIGINT or cancellation (leadership lost); /readyz
    says when they run. The loops follow the Canary watch cache (`Scheduler.on_canary_event`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    owned = _own_signals(loop, stop)
    controller.scheduler.operator_started()
    sweeper = asyncio.create_task(controller.scheduler.sweep_forever(), name="sweep")
    controller.health.ready = True
    try:
        await stop.wait()
        logger.info("signal received: stopping the canary loops")
    finally:
        controller.health.ready = False
        await controller.scheduler.operator_stopped()
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        for signum in owned:
            loop.remove_signal_handler(signum)


def _own_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    """SIGTERM/SIGINT end the operator (on the main thread; elsewhere, e.g. in tests, cancellation does)."""
    owned = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (RuntimeError, ValueError, NotImplementedError):
            continue
        owned.append(signum)
    return owned
