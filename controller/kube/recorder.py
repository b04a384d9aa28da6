"""The recorder port: Kubernetes events (events.k8s.io/v1), JSON log lines and event webhooks.

Every event is written through `events.k8s.io/v1` with reason `Synced` and reporting controller `flagger`,
so `kubectl describe canary` shows it exactly as for Flagger (the API server serves the same object as a
core/v1 Event). A message repeating the canary's previous one is counted into that event's `series`.
Where RBAC forbids events.k8s.io (Flagger's own chart grants only core events) it falls back to core/v1.
The same text is logged with `canary=name.namespace`, and forwarded to the event webhooks: the canary's
own `type: event` hooks, else the global `-event-webhook`.

Event webhooks are posted by one background worker, in order, so a slow sink no longer slows every tick
(Flagger posts them synchronously inside the tick).

The Kubernetes Event writes of each Canary draw on a token bucket, as client-go's recorder (and so
Flagger's) does with its spam filter: a burst of 25, then one per 5 minutes. A long analysis thus writes
its first 25 events and then one every 5 minutes instead of one a tick, which halves a steady tick's API
requests. Flagger's bucket also drops the events that matter once an analysis drained it (`Promotion
completed!`, rollbacks); here Warning events and every event of a tick that writes a new phase are
written, and take no token (a Warning repeated every tick while a rollout waits would drain the bucket
before the analysis starts). An event refused early in such a tick (`Copying ... template spec` comes before
Promoting) is held until the status store reports the phase write (`phase_written`), else dropped when the
next tick begins. A new phase refills the bucket, so a long initialisation does not silence the analysis
that follows. The log line and the event webhooks stay complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.api import Canary, CanaryRef, Webhook
from controller.errors import FlagmanError, NotFoundError
from controller.kube.api import CORE_EVENTS, EVENTS, ForbiddenError, KubeApi, Resource
from controller.kube.objects import CANARY_API_VERSION, CANARY_KIND, JsonDict
from controller.rollout.ports import AlertMessage, Event, EventType, LogLevel

logger = logging.getLogger("controller.events")

REPORTING_CONTROLLER = "flagger"
EVENT_REASON = "Synced"
MAX_NOTE_BYTES = 1024
SERIES_WINDOW_SECONDS = 600.0  # client-go aggregates identical events seen within 10 minutes
EVENT_QUEUE_LIMIT = 1000
# client-go's EventSourceObjectSpamFilter (tools/record/events_cache.go): defaultSpamBurst,
# 1 / defaultSpamQPS, and its LRU of per-object buckets (maxLruCacheEntries).
EVENT_BURST = 25
EVENT_REFILL_SECONDS = 300.0
EVENT_BUDGETS_KEPT = 4096

EventSender = Callable[[Canary, Webhook, str, str, str], Awaitable[None]]
"""`WebhookClient.send_event(canary, hook, phase, event_type, message)`."""

AlertSender = Callable[[Canary, AlertMessage], Awaitable[None]]

_LOG_LEVELS = {LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO, LogLevel.ERROR: logging.ERROR}


def micro_time(now: datetime | None = None) -> str:
    """RFC 3339 with microseconds, the `MicroTime` format `eventTime` requires."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _truncate(message: str) -> str:
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_NOTE_BYTES:
        return message
    return encoded[: MAX_NOTE_BYTES - 3].decode("utf-8", errors="ignore") + "..."


def event_name(ref: CanaryRef, now: datetime | None = None) -> str:
    """`<object>.<hex nanoseconds>`, the explicit name client-go's recorders give an event. (Not
    `generateName: "<object>."`: a real API server refuses that prefix, it must end alphanumeric.)"""
    nanoseconds = time.time_ns() if now is None else int(now.timestamp()) * 10**9 + now.microsecond * 1000
    return f"{ref.name}.{nanoseconds:x}"


def _object_reference(ref: CanaryRef) -> JsonDict:
    """The Canary an event is about (`regarding` in events.k8s.io/v1, `involvedObject` in core/v1)."""
    return {
        "apiVersion": CANARY_API_VERSION,
        "kind": CANARY_KIND,
        "name": ref.name,
        "namespace": ref.namespace,
        "uid": ref.uid,
        "resourceVersion": ref.resource_version,
    }


def event_object(
    ref: CanaryRef, event_type: str, message: str, instance: str, now: datetime | None = None
) -> JsonDict:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": event_name(ref, now), "namespace": ref.namespace},
        "eventTime": micro_time(now),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": instance,
        "action": EVENT_REASON,
        "reason": EVENT_REASON,
        "type": event_type,
        "note": _truncate(message),
        "regarding": _object_reference(ref),
    }


def _seconds_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def core_event_object(ref: CanaryRef, event_type: str, message: str, instance: str) -> JsonDict:
    """The same event in the core/v1 shape (what client-go's recorder, and so Flagger, writes)."""
    now = _seconds_time()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(ref), "namespace": ref.namespace},
        "involvedObject": _object_reference(ref),
        "reason": EVENT_REASON,
        "message": _truncate(message),
        "type": event_type,
        "source": {"component": REPORTING_CONTROLLER},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": REPORTING_CONTROLLER,
        "reportingInstance": instance,
    }


@dataclass
class _RecordedEvent:
    event_type: str
    message: str
    name: str
    count: int
    first_seen: float


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled one per `refill_seconds` (client-go's `flowcontrol` token bucket with
    `TryAccept`, which never waits). aiolimiter's bucket waits instead and reads the loop's clock."""

    capacity: int
    refill_seconds: float
    tokens: float
    updated: float

    def try_take(self, now: float) -> bool:
        if self.refill_seconds > 0:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) / self.refill_seconds)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class _HeldEvent:
    event_type: str
    message: str
    at: datetime


@dataclass
class _EventBudget:
    """One Canary's bucket; the phase changes that bypass it; what its current tick was refused."""

    bucket: TokenBucket
    phase: str | None = None  # the phase of the canary's previous event
    changed_in: str = ""  # resourceVersion the tick that changed the phase started from
    held: list[_HeldEvent] = field(default_factory=list)  # refused in the tick that started from held_in
    held_in: str = ""


class KubeRecorder:
    """Implements `controller.rollout.ports.Recorder`."""

    def __init__(
        self,
        api: KubeApi,
        *,
        event_sender: EventSender | None = None,
        global_event_webhook: str = "",
        alert_sender: AlertSender | None = None,
        instance: str = "",
        event_burst: int = EVENT_BURST,
        event_refill_seconds: float = EVENT_REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self._event_sender = event_sender
        self._global_hook = (
            Webhook(name="events", url=global_event_webhook, type="event") if global_event_webhook else None
        )
        self._alert_sender = alert_sender
        self._instance = instance or f"flagman-{socket.gethostname()}"
        self._queue: asyncio.Queue[tuple[Canary, Webhook, str, str, str]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._last_events: dict[tuple[str, str], _RecordedEvent] = {}
        self._core_events_only = False
        self._burst = event_burst
        self._refill_seconds = event_refill_seconds
        self._clock = clock
        self._budgets: dict[tuple[str, str, str], _EventBudget] = {}  # least recently used first
        self.events_skipped = 0  # Kubernetes Event writes left out by the budget (benchmark, tests)

    def log(self, canary: Canary | CanaryRef, level: LogLevel, message: str) -> None:
        logger.log(_LOG_LEVELS.get(level, logging.INFO), message, extra={"canary": canary_key(canary)})

    async def event(self, canary: Canary | CanaryRef, event: Event) -> None:
        self.log(canary, event.level, event.message)
        ref = canary.ref if isinstance(canary, Canary) else canary
        event_type = str(event.type)
        phase: str | None = None
        if event.phase is not None:
            phase = str(event.phase)
        elif isinstance(canary, Canary):
            phase = str(canary.status.phase)
        budget = self._budget(ref)
        changed = phase is not None and budget.phase is not None and phase != budget.phase
        if phase is not None:
            budget.phase = phase
        try:
            if changed:
                await self._phase_changed(ref, budget)
            if self._within_budget(ref, budget, warning=event.type == EventType.WARNING):
                await self._write_event(ref, event_type, event.message)
            elif not self._count_repeat(ref, event_type, event.message) and ref.resource_version:
                budget.held.append(_HeldEvent(event_type, event.message, datetime.now(UTC)))
        except FlagmanError as error:
            logger.error("recording event failed: %s", error, extra={"canary": ref.key})
        if isinstance(canary, Canary):
            self._forward(canary, phase or "", event_type, event.message)

    async def phase_written(self, ref: CanaryRef) -> None:
        """The status store wrote a new phase for the tick that started from `ref`: that tick's events
        are written, those refused before the write too (`Copying ... template spec` precedes Promoting)."""
        try:
            await self._phase_changed(ref, self._budget(ref))
        except FlagmanError as error:
            logger.error("recording event failed: %s", error, extra={"canary": ref.key})

    def _budget(self, ref: CanaryRef) -> _EventBudget:
        key = (ref.namespace, ref.name, ref.uid)
        budget = self._budgets.pop(key, None)
        if budget is None:
            if len(self._budgets) >= EVENT_BUDGETS_KEPT:
                del self._budgets[next(iter(self._budgets))]  # the least recently used, as client-go's LRU
            budget = _EventBudget(TokenBucket(self._burst, self._refill_seconds, self._burst, self._clock()))
        self._budgets[key] = budget
        if budget.held and budget.held_in != ref.resource_version:
            budget.held.clear()  # a later tick: the refused events went with no phase change
        budget.held_in = ref.resource_version
        return budget

    async def _phase_changed(self, ref: CanaryRef, budget: _EventBudget) -> None:
        if ref.resource_version:
            budget.changed_in = ref.resource_version
        budget.bucket.tokens = budget.bucket.capacity  # each phase's story starts with a full budget
        held, budget.held = budget.held, []
        for event in held:
            await self._write_event(ref, event.event_type, event.message, at=event.at)

    def _within_budget(self, ref: CanaryRef, budget: _EventBudget, *, warning: bool) -> bool:
        """Warnings and the events of a tick that changed the phase are always written, without a token
        (Flagger drops them too once the bucket is empty: the fix); any other event takes one."""
        if warning or (ref.resource_version and ref.resource_version == budget.changed_in):
            return True
        if budget.bucket.try_take(self._clock()):
            return True
        self.events_skipped += 1
        return False

    def _count_repeat(self, ref: CanaryRef, event_type: str, message: str) -> bool:
        """A refused repeat of the canary's previous event still counts: the next write carries it."""
        previous = self._last_events.get((ref.namespace, ref.name))
        if (
            previous is not None
            and (previous.event_type, previous.message) == (event_type, message)
            and time.monotonic() - previous.first_seen < SERIES_WINDOW_SECONDS
        ):
            previous.count += 1
            return True
        self._last_events.pop((ref.namespace, ref.name), None)  # a repeat of this one starts a new Event
        return False

    async def _write_event(
        self, ref: CanaryRef, event_type: str, message: str, *, at: datetime | None = None
    ) -> None:
        """POST a new Event, or count a repeat of the canary's previous one into its `series` (as
        client-go's recorder aggregates repeats), so a wait that repeats every tick stays one object.
        `at`: when it happened, for an event written later than it was recorded."""
        key = (ref.namespace, ref.name)
        now = time.monotonic()
        if self._count_repeat(ref, event_type, message):
            previous = self._last_events[key]
            resource, patch = self._series_patch(previous.count)
            try:
                await self.api.merge_patch(resource, ref.namespace, previous.name, patch)
                return
            except NotFoundError:
                pass  # the event expired: start a new one
        created = await self._create_event(ref, event_type, message, at)
        name = str((created.get("metadata") or {}).get("name") or "")
        self._last_events[key] = _RecordedEvent(event_type, message, name, 1, now)

    async def _create_event(
        self, ref: CanaryRef, event_type: str, message: str, at: datetime | None = None
    ) -> JsonDict:
        if not self._core_events_only:
            body = event_object(ref, event_type, message, self._instance, at)
            try:
                return await self.api.create(EVENTS, ref.namespace, body)
            except ForbiddenError as error:
                if _namespace_terminating(error):
                    raise  # this namespace is going away; not a reason to give up events.k8s.io elsewhere
                # Flagger's own chart grants only core/v1 events: keep working with it, as Flagger does.
                logger.warning("events.k8s.io/v1 events are forbidden (%s); writing core/v1 events", error)
                self._core_events_only = True
        body = core_event_object(ref, event_type, message, self._instance)
        return await self.api.create(CORE_EVENTS, ref.namespace, body)

    def _series_patch(self, count: int) -> tuple[Resource, JsonDict]:
        if self._core_events_only:
            return CORE_EVENTS, {"count": count, "lastTimestamp": _seconds_time()}
        return EVENTS, {"series": {"count": count, "lastObservedTime": micro_time()}}

    async def alert(self, canary: Canary, alert: AlertMessage) -> None:
        if self._alert_sender is None:
            logger.debug("alert (no notifier configured): %s", alert.message, extra={"canary": canary.key})
            return
        try:
            await self._alert_sender(canary, alert)
        except Exception as error:  # the port contract: alerts never break a tick
            logger.error("sending alert failed: %s", error, extra={"canary": canary.key})

    # --- event webhooks ---------------------------------------------------------------------------

    def _forward(self, canary: Canary, phase: str, event_type: str, message: str) -> None:
        if self._event_sender is None:
            return
        hooks = [hook for hook in canary.analysis.webhooks if hook.effective_type == "event"]
        if not hooks and self._global_hook is not None:
            hooks = [self._global_hook]
        if not hooks:
            return
        if self._queue is None:
            self._queue = asyncio.Queue(EVENT_QUEUE_LIMIT)
            self._worker = asyncio.create_task(self._send_events(), name="event webhooks")
        for hook in hooks:
            try:
                self._queue.put_nowait((canary, hook, phase, event_type, message))
            except asyncio.QueueFull:
                logger.error(
                    "error sending event to webhook: queue full, dropped", extra={"canary": canary.key}
                )

    async def _send_events(self) -> None:
        assert self._queue is not None and self._event_sender is not None
        while True:
            canary, hook, phase, event_type, message = await self._queue.get()
            try:
                await self._event_sender(canary, hook, phase, event_type, message)
            except Exception as error:  # a failing sink is logged, never fatal (as in Flagger)
                logger.error("error sending event to webhook: %s", error, extra={"canary": canary.key})
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued event webhook was sent (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
            self._queue = None


def _namespace_terminating(error: ForbiddenError) -> bool:
    """The API server's 403 for new objects in a namespace being deleted (admission, not RBAC)."""
    return "because it is being terminated" in str(error)


def canary_key(canary: Canary | CanaryRef) -> str:
    return canary.key
