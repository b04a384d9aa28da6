"""The scheduler: one asyncio task per Canary runs its tick every `analysis.interval` (Flagger's
`scheduler.go` and `job.go`), plus the periodic sweep and the liveness checks of those loops.

* `CanaryLoops` starts and stops the per-Canary tasks; `Scheduler.on_canary_event`, a listener of the
  Canary watch cache, calls `ensure` and `retire` while the operator runs. One Canary watch feeds both
  the cache the ticks read and the loops: each status write is decoded once (kopf's own Canary watch
  decoded it a second time and, with `-threadiness` workers that idle 5 s per object, started 2 loops
  every 6 s). Canaries carry no finalizer for it (Flagger adds one only for `revertOnDeletion`).
* `TickGate`: at most a few ticks in flight, the most overdue first, so an overloaded controller slows
  every Canary alike.
* `Scheduler.run_canary` is one loop: tick, then sleep what the tick says (`TickOutcome`: the
  interval, or at once), or less when a Deployment change makes waiting pointless
  (`controller.rollout.schedule`). Flagger restarts its ticker job when the interval changes; here
  every tick reports the interval anew.
* Deployment events reach the loops through an index from Deployment to the Canaries that watch it
  (target and `{target}-primary`), kept from the Canaries the ticks return, so an event costs a dict
  lookup rather than a scan of every Canary.
* `sweep_forever`, every `-control-loop-interval`: `flagger_canary_total`, the duplicate-target
  warning, and the retirement of loops whose Canary vanished unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from controller.api import Canary, CanaryRef
from controller.api.canary import DEFAULT_ANALYSIS_INTERVAL_SECONDS, analysis_interval_seconds
from controller.errors import KubeError, NotFoundError
from controller.kube.primary import without_scale_to_zero
from controller.rollout import actions, schedule
from controller.rollout.finalizer import FINALIZER
from controller.rollout.ports import Ports
from controller.rollout.readiness import DaemonSetState, DeploymentState, WorkloadState, parse_time
from controller.rollout.revision import template_hash
from controller.rollout.tick import RolloutSettings, TickMemory, TickOutcome, advance, next_tick_due_now

logger = logging.getLogger("controller")

DEFAULT_TICK_SLOTS = 64  # ticks in flight at once: enough to overlap their I/O, few enough to stay fair
LOOP_STALL_GRACE_SECONDS = 600.0
LOOP_STOP_GRACE_SECONDS = 5.0  # a tick may finish its writes before its task is cancelled
ORPHAN_GRACE_SECONDS = 120.0


class LoopStop:
    """The stop flag of one canary loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._also: list[asyncio.Event] = []

    def set(self) -> None:
        self._event.set()
        for event in self._also:
            event.set()

    def also_sets(self, event: asyncio.Event) -> None:
        """Setting the flag sets `event` too (a sleeping loop waits on one event, not two)."""
        self._also.append(event)
        if self._event.is_set():
            event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (a bounded wait is the point)
        """Wait until set or `timeout` seconds passed; True when set."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        return self._event.is_set()


@dataclass
class _Loop:
    ref: CanaryRef
    stop: LoopStop
    task: asyncio.Task[None]


class CanaryLoops:
    """One asyncio task per Canary (keyed by `name.namespace`, remembering the uid it runs for).

    Bookkeeping is synchronous, so callers need no locks. A Canary
    re-created under the same name gets a new loop that starts only once the old one has ended: both
    share per-key state in the `Scheduler`.
    """

    def __init__(
        self,
        run: Callable[[CanaryRef, LoopStop], Awaitable[None]],
        grace_seconds: float = LOOP_STOP_GRACE_SECONDS,
    ) -> None:
        self._run = run
        self._grace = grace_seconds
        self._loops: dict[str, _Loop] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def running(self) -> dict[str, str]:
        """`name.namespace` -> uid of the loops not asked to stop."""
        return {key: loop.ref.uid for key, loop in self._loops.items()}

    def ensure(self, ref: CanaryRef) -> None:
        """Start the loop of `ref` unless it runs (a loop that ended on its own is started again)."""
        current = self._loops.get(ref.key)
        if current is not None and current.ref.uid == ref.uid and not current.task.done():
            return
        previous = self._loops.pop(ref.key, None)
        if previous is not None:
            self._stop(previous)
        stop = LoopStop()
        task = asyncio.create_task(
            self._run_after(previous.task if previous else None, ref, stop), name=f"canary {ref.key}"
        )
        task.add_done_callback(_log_loop_crash)
        self._loops[ref.key] = _Loop(ref, stop, task)

    def retire(self, key: str, uid: str) -> None:
        """Stop the loop of `key` if it runs for `uid` (a late event of a deleted twin is ignored)."""
        current = self._loops.get(key)
        if current is not None and current.ref.uid == uid:
            logger.info("Deleting %s from cache", key, extra={"canary": key})  # Flagger's words
            self._stop(self._loops.pop(key))

    async def stop_all(self) -> None:
        """Stop every loop; return once all have ended (each within the grace, then cancelled)."""
        for key in list(self._loops):
            self._stop(self._loops.pop(key))
        while self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)

    async def stop_where(self, selected: Callable[[CanaryRef], bool], grace: float) -> None:
        """Stop the loops `selected` picks (a shard given up, `controller.sharding`), each cancelled after
        `grace` seconds; return once they have ended."""
        stoppers = [
            self._stop(self._loops.pop(key), grace)
            for key, loop in list(self._loops.items())
            if selected(loop.ref)
        ]
        if stoppers:
            await asyncio.gather(*stoppers, return_exceptions=True)

    def _stop(self, loop: _Loop, grace: float | None = None) -> asyncio.Task[None]:
        loop.stop.set()
        stopper = asyncio.create_task(
            self._cancel_after_grace(loop, self._grace if grace is None else grace),
            name=f"stop canary {loop.ref.key}",
        )
        self._stopping.add(stopper)
        stopper.add_done_callback(self._stopping.discard)
        return stopper

    async def _cancel_after_grace(self, loop: _Loop, grace: float) -> None:
        done, _ = await asyncio.wait({loop.task}, timeout=grace)
        if not done:
            logger.warning(
                "canary loop did not stop within %.1fs: cancelling it",
                grace,
                extra={"canary": loop.ref.key},
            )
            loop.task.cancel()
            await asyncio.gather(loop.task, return_exceptions=True)

    async def _run_after(self, previous: asyncio.Task[None] | None, ref: CanaryRef, stop: LoopStop) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        if not stop:
            await self._run(ref, stop)
        logger.info("canary loop stopped", extra={"canary": ref.key})


def _log_loop_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("canary loop crashed", exc_info=task.exception())


class TickGate:
    """At most `slots` ticks run at once, and waiting ticks start in the order they fell due.

    With one sleeping task per Canary and no gate, an overloaded loop serves whichever request or timer
    completes first: some Canaries tick on time while others wait many intervals. Here the most overdue
    tick always goes next, so under overload every Canary slows down alike, and a burst (a cold start,
    a relist) cannot flood the API server with more than `slots` ticks in flight.
    """

    def __init__(self, slots: int = DEFAULT_TICK_SLOTS) -> None:
        if slots < 1:
            raise ValueError("a tick gate needs at least one slot")
        self._free = slots
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, future in self._waiting if not future.done())

    @contextlib.asynccontextmanager
    async def slot(self, due: float) -> AsyncIterator[None]:
        """Hold one slot for the body; `due` (loop time) orders the waiters, earliest first."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (due, next(self._order), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed a slot in the same instant it was cancelled
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():  # cancelled waiters are skipped
                future.set_result(None)
                return
        self._free += 1


class CanaryCache(Protocol):
    """The Canaries the controller watches, as raw bodies (`controller.kube.watchcache.WatchCache`)."""

    def items(self, namespace: str | None = None) -> list[dict[str, Any]]: ...


class CanaryTotals(Protocol):
    """Where `flagger_canary_total` goes (`controller.telemetry.ControllerMetrics`)."""

    def set_total(self, namespace: str, count: int) -> None: ...


ReadCanary = Callable[[str, str], Awaitable[object]]
"""`(namespace, name)` -> the Canary from the API server itself; raises NotFoundError when it is gone."""


class Scheduler:
    """The canary loops, the Deployment index that wakes them, the sweep, and their liveness checks."""

    def __init__(
        self,
        ports: Ports,
        settings: RolloutSettings,
        *,
        canaries: CanaryCache,
        read_canary: ReadCanary,
        totals: CanaryTotals,
        control_loop_interval: float,
        after_tick: Callable[[CanaryRef], Awaitable[None]] | None = None,
        gate: TickGate | None = None,
    ) -> None:
        """`after_tick` runs after every tick of a Canary (the analysis history's save)."""
        self._ports = ports
        self._after_tick = after_tick
        self.gate = gate or TickGate()
        self._settings = settings
        self._canaries = canaries
        self._read_canary = read_canary
        self._totals = totals
        self._control_loop_interval = control_loop_interval
        self.loops = CanaryLoops(self.run_canary)
        self._started_at = math.inf  # when the operator started; a follower runs no canary loops
        self._operating = False
        self._last_tick: dict[str, float] = {}
        self._intervals: dict[str, float] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._latest: dict[str, Canary] = {}  # the Canary as its last tick left it
        self._watchers: dict[tuple[str, str], dict[str, schedule.Watched]] = {}  # Deployment -> canaries
        # Sharding (`controller.sharding`): whether this replica runs the Canary `(namespace, name)`.
        self.owns: Callable[[str, str], bool] = lambda namespace, name: True

    def operator_started(self) -> None:
        """The operator runs from now on: every cached Canary gets its loop, later ones as they come, and
        Canaries without a loop count as a liveness problem soon."""
        self._started_at = self._ports.clock.monotonic()
        self._operating = True
        self.ensure_loops()

    async def stop_loops_where(self, selected: Callable[[str, str], bool], grace: float) -> None:
        """Stop the loops of the Canaries `(namespace, name)` that `selected` picks (sharding)."""
        await self.loops.stop_where(lambda ref: selected(ref.namespace, ref.name), grace)

    async def operator_stopped(self) -> None:
        """Stop every loop (shutdown, or leadership lost); events no longer start loops."""
        self._operating = False
        await self.loops.stop_all()

    def ensure_loops(self) -> None:
        """A loop for every cached Canary (after a relist, the cache announces no ADDED events)."""
        for body in self._canaries.items():
            self.on_canary_event("ADDED", body)

    def on_canary_event(self, event_type: str, body: dict[str, Any]) -> None:
        """The Canary watch cache's listener: start, wake or retire the Canary's loop."""
        if not self._operating:
            return
        meta = body.get("metadata") or {}
        ref = CanaryRef(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or "default"),
            uid=str(meta.get("uid") or ""),
        )
        deleting = bool(meta.get("deletionTimestamp"))
        if event_type == "DELETED" or (deleting and FINALIZER not in (meta.get("finalizers") or ())):
            self.loops.retire(ref.key, ref.uid)
        elif self.owns(ref.namespace, ref.name):
            # With revertOnDeletion's finalizer the loop's next tick reverts the target; wake it for that.
            self.loops.ensure(ref)
            if deleting:
                self.wake(ref.key)

    # --- the per-canary loop ---------------------------------------------------------------------

    async def run_canary(self, ref: CanaryRef, stopped: LoopStop) -> None:
        """Tick now, then every interval at a fixed rate, as Flagger's `time.Ticker` does: the next tick
        is due one interval after this one was *due*, not after it started, so time spent waiting for
        a slot does not accumulate into the canary's cadence. Ticks never overlap (a slow tick delays
        the next one); under overload missed ticks are dropped, as the Ticker drops them.

        Between analysis ticks the loop may be woken early (`on_deployment_change`), and a tick may
        say the next one is due at once: neither runs an analysis early, so the analysis cadence stays
        one interval while detection and promotion lose their idle waits.
        """
        key = ref.key
        memory = TickMemory()
        loop = asyncio.get_running_loop()
        wake = self._wakeups.setdefault(key, asyncio.Event())
        stopped.also_sets(wake)
        self._last_tick[key] = self._ports.clock.monotonic()  # the loop exists from now on (liveness checks)
        due = loop.time()
        try:
            while not stopped:
                outcome: TickOutcome | None = None
                async with self.gate.slot(due):
                    if stopped:
                        break
                    # Sharding: a shard whose renewal is overdue (a paused process) may be another
                    # replica's by now; skip the tick until it is renewed or its loops are stopped.
                    if self.owns(ref.namespace, ref.name):
                        try:
                            outcome = await advance(ref, self._ports, self._settings, memory)
                            if self._after_tick is not None:
                                await self._after_tick(ref)
                        except Exception:  # a bug in one tick must not kill the canary's loop
                            logger.exception("tick failed", extra={"canary": key})
                # Changes the tick itself caused (scaling the target, promoting the primary) must not
                # wake the loop: that would run the next analysis early.
                wake.clear()
                self._last_tick[key] = self._ports.clock.monotonic()
                if outcome is not None:
                    self._remember(key, outcome.canary)
                    self._intervals[key] = outcome.interval
                    # Asked again once the index holds the canary as the tick left it: a primary that became
                    # ready after the tick's own check and before `wake.clear()` woke nobody.
                    if outcome.due_now or (
                        outcome.canary is not None and await next_tick_due_now(outcome.canary, self._ports)
                    ):
                        due = loop.time()
                        continue
                interval = self._intervals.get(key) or analysis_interval_seconds(
                    None, self._settings.min_analysis_interval
                )
                due = next_due(due, interval, loop.time())
                if stopped:  # a stop during the tick set `wake`, which the tick's end cleared
                    break
                if await _sleep_or_wake(wake, due - loop.time()):
                    due = loop.time()  # woken early: due now, behind those already overdue
        finally:
            self._last_tick.pop(key, None)
            self._intervals.pop(key, None)
            self._wakeups.pop(key, None)
            self._remember(key, None)

    def _remember(self, key: str, canary: Canary | None) -> None:
        """Keep the Deployment index in step with the Canary's latest target."""
        previous = self._latest.pop(key, None)
        if previous is not None:
            for name in schedule.watched_deployments(previous):
                watchers = self._watchers.get((previous.namespace, name), {})
                watchers.pop(key, None)
                if not watchers:
                    self._watchers.pop((previous.namespace, name), None)
        if canary is None:
            return
        self._latest[key] = canary
        for name, role in schedule.watched_deployments(canary).items():
            self._watchers.setdefault((canary.namespace, name), {})[key] = role

    def wake(self, key: str) -> None:
        """Run the canary's next tick now (its deletion waits for a revertOnDeletion revert)."""
        wake = self._wakeups.get(key)
        if wake is not None:
            wake.set()

    def on_daemonset_change(self, event_type: str, daemonset: dict[str, Any]) -> None:
        """`on_deployment_change` for DaemonSet targets and primaries."""
        self.on_deployment_change(event_type, daemonset, daemonset=True)

    def on_deployment_change(
        self, event_type: str, deployment: dict[str, Any], *, daemonset: bool = False
    ) -> None:
        """Wake the loops for which this change makes waiting for the next tick pointless."""
        if event_type == "DELETED":
            return
        meta = deployment.get("metadata") or {}
        watchers = self._watchers.get((str(meta.get("namespace") or ""), str(meta.get("name") or "")))
        if not watchers:
            return
        spec_hash: str | None = None
        state: WorkloadState | None = None
        now = self._ports.clock.now()
        for key, role in list(watchers.items()):
            canary, wake = self._latest.get(key), self._wakeups.get(key)
            if canary is None or wake is None or (canary.target_kind == "DaemonSet") != daemonset:
                continue
            if role is schedule.Watched.TARGET:
                if spec_hash is None:
                    template = (deployment.get("spec") or {}).get("template") or {}
                    spec_hash = template_hash(without_scale_to_zero(template) if daemonset else template)
                due = schedule.wakes_on_target(canary, spec_hash) or actions.awaits_canary_pods(canary)
            else:
                state = state or (
                    DaemonSetState.from_dict(deployment)
                    if daemonset
                    else DeploymentState.from_dict(deployment)
                )
                due = schedule.wakes_on_primary(canary, state, now)
            if due:
                wake.set()

    def on_canary_change(self, event_type: str, body: dict[str, Any]) -> None:
        """Wake the loop of a Canary that carries a new release request (`kubectl flagman`)."""
        meta = body.get("metadata") or {}
        key = f"{meta.get('name')}.{meta.get('namespace') or 'default'}"
        if event_type != "DELETED" and actions.wakes_on_canary(body, self._latest.get(key)):
            self.wake(key)

    # --- liveness --------------------------------------------------------------------------------

    def canaries_without_loop(self) -> str | None:
        """Liveness: Canaries that never got a loop (a bug, or a watch gone zombie).

        Checked once the controller has run for a while, for Canaries that are not being deleted.
        """
        if self._ports.clock.monotonic() - self._started_at < ORPHAN_GRACE_SECONDS:
            return None
        orphans = []
        now = self._ports.clock.now()
        for body in self._canaries.items():
            meta = body.get("metadata") or {}
            key = f"{meta.get('name')}.{meta.get('namespace')}"
            if meta.get("deletionTimestamp") or key in self._last_tick:
                continue
            if not self.owns(str(meta.get("namespace") or ""), str(meta.get("name") or "")):
                continue
            created = parse_time(meta.get("creationTimestamp"))
            if created is not None and (now - created).total_seconds() > ORPHAN_GRACE_SECONDS:
                orphans.append(key)
        return f"canaries without a loop: {', '.join(sorted(orphans))}" if orphans else None

    def stalled_loops(self) -> str | None:
        """Liveness: a loop that has not finished a tick for far longer than its interval."""
        now = self._ports.clock.monotonic()
        stalled = [
            key
            for key, last in self._last_tick.items()
            if now - last
            > max(3 * self._intervals.get(key, DEFAULT_ANALYSIS_INTERVAL_SECONDS), LOOP_STALL_GRACE_SECONDS)
        ]
        return f"canary loops stalled: {', '.join(sorted(stalled))}" if stalled else None

    # --- the sweep -------------------------------------------------------------------------------

    async def sweep_forever(self) -> None:
        """`flagger_canary_total` per namespace and the duplicate-target warning, every control loop."""
        while True:
            await self.sweep()
            await asyncio.sleep(self._control_loop_interval)

    async def sweep(self) -> None:
        counts: Counter[str] = Counter()
        targets: Counter[tuple[str, str]] = Counter()
        for body in self._canaries.items():
            namespace = str((body.get("metadata") or {}).get("namespace") or "")
            # with sharding, each replica counts its own Canaries: summed over replicas, the total
            counts[namespace] += self.owns(namespace, str((body.get("metadata") or {}).get("name") or ""))
            target = str(((body.get("spec") or {}).get("targetRef") or {}).get("name") or "")
            targets[(namespace, target)] += 1
        for namespace, count in counts.items():
            self._totals.set_total(namespace, count)
        for (namespace, target), count in targets.items():
            if count > 1:
                logger.error(
                    "Bad things will happen! Found more than one canary with the same target %s.%s",
                    target,
                    namespace,
                )
        await self.retire_vanished_loops()
        if self._operating:
            self.ensure_loops()

    async def retire_vanished_loops(self) -> None:
        """End the loops of Canaries that are gone although no DELETED event said so.

        kopf relists after a 410 without replaying the deletions it missed; a loop whose Canary is absent
        from the watch cache is retired once a GET confirms the 404 (the cache may lag a brand-new Canary).
        """
        cached = {
            f"{meta.get('name')}.{meta.get('namespace')}"
            for meta in ((body.get("metadata") or {}) for body in self._canaries.items())
        }
        for key, uid in self.loops.running().items():
            if key in cached:
                continue
            name, _, namespace = key.rpartition(".")  # namespaces have no dots; names may
            try:
                await self._read_canary(namespace, name)
            except NotFoundError:
                self.loops.retire(key, uid)
            except KubeError as error:
                logger.debug("checking whether %s still exists failed: %s", key, error)


def next_due(due: float, interval: float, now: float) -> float:
    """The tick after the one due at `due`: one interval later (a fixed rate, so waiting for a slot
    does not push the cadence). Ticks missed by more than an interval are dropped, keeping the phase,
    as Go's Ticker drops them for a slow receiver: at most one runs late, at once."""
    due += interval
    behind = now - due
    if behind > interval:
        due += (behind // interval) * interval
    return due


async def _sleep_or_wake(wake: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less when the canary is woken or its loop stopped (which sets `wake` too);
    True when woken. One event and one timer per wait: this runs once per tick of every canary."""
    if seconds <= 0:
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
            return True
    return False
