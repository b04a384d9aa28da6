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
from collections.abc import Callable, Coroutine
from typing import Any

from controller.errors import FlagmanError
from controller.leader import LeaseElector, LeaseTimings, candidate_identity, lead
from controller.settings import Settings
from controller.sharding.coordinator import ShardCoordinator, ShardsLost
from controller.sharding.timings import ShardTimings
from controller.telemetry import VERSION
from controller.wiring import Controller

logger = logging.getLogger("controller")

HELPER_CANCEL_RETRY_SECONDS = 30.0  # more than a shard release takes (the loops' grace, then Lease writes)


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
        if settings.enable_sharding:
            coordinator = _shard_coordinator(controller, settings)
            try:
                await _operate(controller, settings, alongside=coordinator.run)
            except ShardsLost as lost:
                logger.error("%s: exiting so the pod restarts with fresh caches", lost)
                return 1
            return 0
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


def _shard_coordinator(controller: Controller, settings: Settings) -> ShardCoordinator:
    """With `-enable-sharding` this replica runs only the Canaries of the shards it holds."""
    scheduler = controller.scheduler
    coordinator = ShardCoordinator(
        controller.api,
        settings.leader_election_lease_namespace,
        candidate_identity(),
        settings.shards,
        shard_timings(settings),
        start_loops=scheduler.ensure_loops,
        stop_loops=scheduler.stop_loops_where,
        report=controller.metrics.set_shard_held,
    )
    scheduler.owns = coordinator.owns
    return coordinator


async def _operate(
    controller: Controller,
    settings: Settings,
    alongside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """The canary loops and the sweep, until SIGTERM/SIGINT or cancellation (leadership lost); /readyz
    says when they run. The loops follow the Canary watch cache (`Scheduler.on_canary_event`).
    `alongside` (the shard coordinator) runs meanwhile and is cancelled first when stopping."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    owned = _own_signals(loop, stop)
    controller.scheduler.operator_started()
    sweeper = asyncio.create_task(controller.scheduler.sweep_forever(), name="sweep")
    helper = asyncio.create_task(alongside(), name="sharding") if alongside is not None else None
    controller.health.ready = True
    try:
        stopping = asyncio.create_task(stop.wait(), name="stop signal")
        try:
            await asyncio.wait(
                {stopping} | ({helper} if helper else set()), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
        if helper is not None and helper.done():
            helper.result()  # the coordinator crashed: fail the process
        logger.info("signal received: stopping the canary loops")
    finally:
        controller.health.ready = False
        if helper is not None:  # it stops its shards' loops, then releases their Leases
            while not helper.done():  # again if a library swallowed the cancellation (3.11's wait_for)
                helper.cancel()
                await asyncio.wait({helper}, timeout=HELPER_CANCEL_RETRY_SECONDS)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                helper.result()
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


def shard_timings(settings: Settings) -> ShardTimings:
    """`-shard-lease-duration`, `-shard-renew-deadline`, `-shard-retry-period` (raises ShardTimingsError)."""
    return ShardTimings(
        settings.shard_lease_duration, settings.shard_renew_deadline, settings.shard_retry_period
    )
