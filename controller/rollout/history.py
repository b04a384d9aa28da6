"""Analysis history: what each analysis run measured, called and went through, kept per Canary.

The tick is not changed: :func:`with_history` wraps four ports (metrics, webhooks, status, recorder) so
that what passes through them is also noted in a :class:`HistoryBook`, in memory. At the end of each
tick the scheduler calls :meth:`HistoryBook.flush`, which saves a changed history through the
:class:`HistoryStore` port (one ConfigMap per Canary, ``controller/kube/history.py``) — at most one write
per tick, none for a tick that changed nothing (a steady Succeeded canary costs no writes). A tick that
only added points (checks, webhook calls, events) is saved once ``save_every_seconds`` passed since the
last save (``-analysis-history-save-interval``, 10 s): serialising and writing the whole document every
tick was a sixth of a steady tick's CPU at a 1 s interval. Phase changes (a run opened, advanced or
closed) are saved at once, and :meth:`HistoryBook.flush_all` saves the rest at shutdown, so a crash loses
at most that many seconds of points; ``/history`` serves the book in memory, always current.

A *run* begins when the Canary enters Progressing from outside the analysis (or a new revision restarts
it) and ends in Succeeded or Failed (or ``Superseded`` when a new revision restarts it). The last
``runs_kept`` runs are kept; inside a run, iterations, webhook calls and events are capped too, so the
document stays far below the 1 MiB object limit (about 100 KiB at most with the defaults).

The document is plain JSON (:data:`SCHEMA_VERSION`), documented in docs/visibility.md; readers (the
report, the dashboard) parse the JSON and import nothing from the controller.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.api import Canary, CanaryRef, CanaryStatus, Metric, Phase, Webhook
from controller.errors import FlagmanError, NotFoundError, WebhookError
from controller.rollout.ports import (
    AlertMessage,
    AnalysisResult,
    Clock,
    Event,
    LogLevel,
    Metrics,
    Ports,
    Recorder,
    StatusStore,
    Webhooks,
)
from controller.rollout.transitions import format_time

__all__ = [
    "DEFAULT_RUNS_KEPT",
    "SCHEMA_VERSION",
    "HistoryBook",
    "HistoryStore",
    "metric_band",
    "with_history",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_RUNS_KEPT = 10
DEFAULT_SAVE_EVERY_SECONDS = 60.0
MAX_POINTS_PER_METRIC = 200
MAX_WEBHOOK_CALLS = 200
MAX_EVENTS = 200
MAX_TEXT = 500

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"

_ANALYSIS = frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING})
_ENDS = frozenset({Phase.SUCCEEDED, Phase.FAILED})


class HistoryStore(Protocol):
    """Where histories live between controller restarts (``controller/kube/history.py``)."""

    async def load(self, ref: CanaryRef) -> Mapping[str, Any] | None:
        """The saved document, None when there is none. Raises FlagmanError when it cannot be read."""
        ...

    async def save(self, ref: CanaryRef, document: Mapping[str, Any]) -> None:
        """Replace the saved document (owned by the Canary ``ref.uid``). Raises FlagmanError."""
        ...


def metric_band(metric: Metric) -> tuple[float | None, float | None, str]:
    """``(min, max, unit)`` a value of ``metric`` must stay within, as the analysis judges it.

    ``thresholdRange`` wins; otherwise the legacy ``threshold`` is a minimum for the success rate and a
    maximum for everything else (``controller/analysis/thresholds.py``). Durations are in ms.
    """
    unit = {REQUEST_SUCCESS_RATE: "%", REQUEST_DURATION: "ms"}.get(metric.name, "")
    limits = metric.threshold_range
    if limits is not None and (limits.min is not None or limits.max is not None):
        return limits.min, limits.max, unit
    if metric.threshold is None:
        return None, None, unit
    if metric.name == REQUEST_SUCCESS_RATE:
        return metric.threshold, None, unit
    return None, metric.threshold, unit


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass
class _CanaryHistory:
    uid: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    phase: str = ""
    dirty: bool = False
    urgent: bool = False  # a phase change: saved at the end of the tick, whenever the last save was
    saved_at: float = -math.inf  # clock.monotonic() of the last save
    closed_this_tick: dict[str, Any] | None = None  # post-rollout hooks and final events still belong to it

    @property
    def current(self) -> dict[str, Any] | None:
        if self.runs and self.runs[-1].get("outcome") is None:
            return self.runs[-1]
        return None

    @property
    def recent(self) -> dict[str, Any] | None:
        """The open run, or the run this tick closed."""
        return self.current or self.closed_this_tick


class HistoryBook:
    """Every Canary's history in memory, loaded once from the store and saved after changing ticks."""

    def __init__(
        self,
        store: HistoryStore,
        clock: Clock,
        *,
        runs_kept: int = DEFAULT_RUNS_KEPT,
        save_every_seconds: float = DEFAULT_SAVE_EVERY_SECONDS,
    ) -> None:
        if runs_kept < 1:
            raise ValueError("runs_kept must be at least 1")
        if save_every_seconds < 0:
            raise ValueError("save_every_seconds must not be negative")
        self._save_every = save_every_seconds
        self._store = store
        self._clock = clock
        self._runs_kept = runs_kept
        self._histories: dict[str, _CanaryHistory] = {}

    # -- reading -----------------------------------------------------------------------------------

    def document(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The history as JSON (what the store saves and ``/history/{ns}/{name}`` serves)."""
        history = self._histories.get(f"{name}.{namespace}")
        if history is None:
            return None
        return {
            "version": SCHEMA_VERSION,
            "canary": {"name": name, "namespace": namespace, "uid": history.uid},
            "runs": history.runs,
        }

    def canaries(self) -> list[tuple[str, str]]:
        """``(namespace, name)`` of every Canary with a history in memory."""
        located = (key.split(".", 1) for key in self._histories)
        return sorted((namespace, name) for name, namespace in located)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _history(self, ref: CanaryRef) -> _CanaryHistory | None:
        """The Canary's history, loaded from the store the first time; None while it cannot be read
        (nothing is noted then, so that a save cannot overwrite runs we never saw)."""
        history = self._histories.get(ref.key)
        if history is not None and (not ref.uid or history.uid in ("", ref.uid)):
            history.uid = history.uid or ref.uid
            return history
        try:
            saved = await self._store.load(ref)
        except FlagmanError as error:
            logger.warning("analysis history of %s not readable: %s", ref.key, error)
            return None
        history = _CanaryHistory(uid=ref.uid)
        if saved is not None and saved.get("version") == SCHEMA_VERSION:
            owner = (saved.get("canary") or {}).get("uid", "")
            if not ref.uid or owner in ("", ref.uid):  # a re-created Canary starts afresh
                runs = saved.get("runs")
                history.runs = (
                    [run for run in runs if isinstance(run, dict)] if isinstance(runs, list) else []
                )
        if history.runs:
            phases = history.runs[-1].get("phases") or [{}]
            history.phase = str(phases[-1].get("phase", ""))
        self._histories[ref.key] = history
        return history

    def forget(self, ref: CanaryRef) -> None:
        """The Canary is gone (its ConfigMap goes with it, by ownerReference)."""
        self._histories.pop(ref.key, None)

    async def flush(self, ref: CanaryRef) -> None:
        """Save the Canary's history when this tick changed its phase, or changed it and the last save is
        ``save_every_seconds`` old. Never raises (logged; retried)."""
        history = self._histories.get(ref.key)
        if history is None:
            return
        history.closed_this_tick = None
        if not history.dirty:
            return
        if not history.urgent and self._clock.monotonic() - history.saved_at < self._save_every:
            return
        await self._save(ref, history)

    async def flush_all(self) -> None:
        """Save every history with unsaved changes (shutdown). Never raises."""
        for key, history in list(self._histories.items()):
            if history.dirty:
                name, _, namespace = key.rpartition(".")  # namespaces have no dots; names may
                await self._save(CanaryRef(name=name, namespace=namespace, uid=history.uid), history)

    async def _save(self, ref: CanaryRef, history: _CanaryHistory) -> None:
        document = self.document(ref.namespace, ref.name)
        assert document is not None
        try:
            await self._store.save(dataclasses.replace(ref, uid=history.uid or ref.uid), document)
        except FlagmanError as error:
            logger.warning("analysis history of %s not saved: %s", ref.key, error)
            return
        history.dirty = history.urgent = False
        history.saved_at = self._clock.monotonic()

    # -- noting ------------------------------------------------------------------------------------

    def _now(self) -> str:
        return format_time(self._clock.now())

    async def note_status(self, ref: CanaryRef, status: CanaryStatus) -> None:
        """A status write: phase transitions open, extend and close runs."""
        history = await self._history(ref)
        if history is None:
            return
        phase = status.phase
        run = history.current
        restarted = (
            run is not None
            and phase == Phase.PROGRESSING
            and status.iterations == 0
            and status.last_applied_spec != run.get("revision")
        )
        if phase.value == history.phase and not restarted:
            return
        now = self._now()
        if restarted and run is not None:
            self._close(run, "Superseded", now)
            history.closed_this_tick = None
            run = None
        if run is None and phase == Phase.PROGRESSING:
            run = self._open(history, status, now)
        history.phase = phase.value
        if restarted:
            history.dirty = history.urgent = True
        if run is not None:  # phases outside a run (Initialized, Waiting) are not kept
            run["phases"].append({"phase": phase.value, "at": now})
            if phase in _ENDS:
                self._close(run, phase.value, now)
                history.closed_this_tick = run
            history.dirty = history.urgent = True

    def _open(self, history: _CanaryHistory, status: CanaryStatus, now: str) -> dict[str, Any]:
        number = int(history.runs[-1].get("number", 0)) + 1 if history.runs else 1
        run: dict[str, Any] = {
            "number": number,
            "revision": status.last_applied_spec,
            "started": now,
            "ended": None,
            "outcome": None,
            "phases": [],
            "metrics": {},
            "webhooks": [],
            "events": [],
        }
        history.runs.append(run)
        del history.runs[: -self._runs_kept]
        return run

    @staticmethod
    def _close(run: dict[str, Any], outcome: str, now: str) -> None:
        run["outcome"] = outcome
        run["ended"] = now

    async def note_checks(self, canary: Canary, result: AnalysisResult) -> None:
        """The metric checks of one iteration: each measured value against its band."""
        history = await self._history(canary.ref)
        run = history.current if history else None
        if history is None or run is None:
            return
        now = self._now()
        for metric in canary.analysis.metrics:
            if metric.name not in result.values:
                continue  # not measured: its query failed or an earlier check halted (see the events)
            value = result.values[metric.name]
            low, high, unit = metric_band(metric)
            if metric.name == REQUEST_DURATION:
                value *= 1000  # the port reports seconds; the limits are in ms
            series = run["metrics"].setdefault(metric.name, {"unit": unit, "points": []})
            series.update({"min": low, "max": high})
            series["points"].append(
                {
                    "iteration": canary.status.iterations,
                    "at": now,
                    "value": value,
                    "passed": _within(value, low, high),
                    "failedChecks": canary.status.failed_checks,
                }
            )
            del series["points"][:-MAX_POINTS_PER_METRIC]
        run.setdefault("checks", []).append(
            {"iteration": canary.status.iterations, "at": now, "passed": result.passed}
        )
        del run["checks"][:-MAX_POINTS_PER_METRIC]
        history.dirty = True

    async def note_webhook(
        self, canary: Canary, webhook: Webhook, phase: Phase, seconds: float, error: str | None
    ) -> None:
        history = await self._history(canary.ref)
        run = history.recent if history else None
        if history is None or run is None:
            return
        run["webhooks"].append(
            {
                "name": webhook.name,
                "type": webhook.type or "rollout",
                "phase": phase.value,
                "at": self._now(),
                "iteration": canary.status.iterations,
                "durationSeconds": round(seconds, 4),
                "passed": error is None,
                "error": _clip(error or ""),
            }
        )
        del run["webhooks"][:-MAX_WEBHOOK_CALLS]
        history.dirty = True

    async def note_event(self, ref: CanaryRef, event: Event) -> None:
        history = self._histories.get(ref.key)  # events alone never trigger a load
        run = history.recent if history else None
        if history is None or run is None:
            return
        run["events"].append({"at": self._now(), "type": event.type.value, "message": _clip(event.message)})
        del run["events"][:-MAX_EVENTS]
        history.dirty = True


# --------------------------------------------------------------------------------------------------
# The port wrappers


@dataclass(frozen=True)
class _Metrics:
    inner: Metrics
    book: HistoryBook

    async def check_providers(self, canary: Canary) -> None:
        await self.inner.check_providers(canary)

    async def run_checks(self, canary: Canary) -> AnalysisResult:
        result = await self.inner.run_checks(canary)
        await self.book.note_checks(canary, result)
        return result


@dataclass(frozen=True)
class _Webhooks:
    inner: Webhooks
    book: HistoryBook
    clock: Clock

    async def call(self, canary: Canary, webhook: Webhook, phase: Phase) -> None:
        started = self.clock.monotonic()
        try:
            await self.inner.call(canary, webhook, phase)
        except WebhookError as error:
            await self.book.note_webhook(canary, webhook, phase, self.clock.monotonic() - started, str(error))
            raise
        await self.book.note_webhook(canary, webhook, phase, self.clock.monotonic() - started, None)


@dataclass(frozen=True)
class _Status:
    inner: StatusStore
    book: HistoryBook

    async def get(self, ref: CanaryRef) -> Mapping[str, Any]:
        try:
            body = await self.inner.get(ref)
        except NotFoundError:
            self.book.forget(ref)
            raise
        return body

    async def write(self, ref: CanaryRef, status: CanaryStatus) -> None:
        await self.inner.write(ref, status)
        await self.book.note_status(ref, status)

    async def set_finalizer(self, ref: CanaryRef, finalizer: str, *, present: bool) -> None:
        await self.inner.set_finalizer(ref, finalizer, present=present)


@dataclass(frozen=True)
class _Recorder:
    inner: Recorder
    book: HistoryBook

    async def event(self, canary: Canary | CanaryRef, event: Event) -> None:
        await self.inner.event(canary, event)
        await self.book.note_event(canary.ref if isinstance(canary, Canary) else canary, event)

    async def alert(self, canary: Canary, alert: AlertMessage) -> None:
        await self.inner.alert(canary, alert)

    def log(self, canary: Canary | CanaryRef, level: LogLevel, message: str) -> None:
        self.inner.log(canary, level, message)


def with_history(ports: Ports, book: HistoryBook) -> Ports:
    """``ports`` whose metrics, webhooks, status writes and events are also noted in ``book``."""
    return dataclasses.replace(
        ports,
        metrics=_Metrics(ports.metrics, book),
        webhooks=_Webhooks(ports.webhooks, book, ports.clock),
        status=_Status(ports.status, book),
        recorder=_Recorder(ports.recorder, book),
    )
