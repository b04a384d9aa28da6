"""The analysis history document (docs/visibility.md, ``version: 1``) as typed, validated values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1
CONFIGMAP_PREFIX = "flagman-history-"
DOCUMENT_KEY = "history.json"


class HistoryFormatError(ValueError):
    """The document is not an analysis history this version understands; the text says what is wrong."""


@dataclass(frozen=True)
class Point:
    iteration: int
    at: str
    value: float
    passed: bool
    failed_checks: int


@dataclass(frozen=True)
class MetricSeries:
    name: str
    unit: str
    min: float | None
    max: float | None
    points: tuple[Point, ...]


@dataclass(frozen=True)
class WebhookCall:
    name: str
    type: str
    phase: str
    at: str
    iteration: int
    duration_seconds: float
    passed: bool
    error: str


@dataclass(frozen=True)
class PhaseChange:
    phase: str
    at: str


@dataclass(frozen=True)
class EventLine:
    at: str
    type: str
    message: str


@dataclass(frozen=True)
class Run:
    number: int
    revision: str
    started: str
    ended: str | None
    outcome: str | None
    phases: tuple[PhaseChange, ...]
    metrics: tuple[MetricSeries, ...]
    webhooks: tuple[WebhookCall, ...]
    events: tuple[EventLine, ...]

    @property
    def status(self) -> str:
        return self.outcome or "Running"


@dataclass(frozen=True)
class History:
    name: str
    namespace: str
    runs: tuple[Run, ...]

    def run(self, number: int | None = None) -> Run:
        """Run ``number``, or the latest; HistoryFormatError when there is none."""
        if not self.runs:
            raise HistoryFormatError(f"canary {self.name}.{self.namespace} has no analysis run recorded yet")
        if number is None:
            return self.runs[-1]
        for run in self.runs:
            if run.number == number:
                return run
        kept = ", ".join(str(run.number) for run in self.runs)
        raise HistoryFormatError(f"run {number} of {self.name}.{self.namespace} is not kept (kept: {kept})")


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise HistoryFormatError(f"{where} must be a list")
    return value


def _map(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HistoryFormatError(f"{where} must be an object")
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _run(raw: Any, index: int) -> Run:
    where = f"runs[{index}]"
    data = _map(raw, where)
    metrics = []
    for name, series in sorted(_map(data.get("metrics") or {}, f"{where}.metrics").items()):
        body = _map(series, f"{where}.metrics.{name}")
        points = tuple(
            Point(
                iteration=int(point.get("iteration", 0)),
                at=str(point.get("at", "")),
                value=float(point["value"]),
                passed=bool(point.get("passed")),
                failed_checks=int(point.get("failedChecks", 0)),
            )
            for point in (
                _map(p, f"{where}.metrics.{name}.points[]") for p in _list(body.get("points"), name)
            )
            if _number(point.get("value")) is not None
        )
        unit = str(body.get("unit", ""))
        metrics.append(MetricSeries(name, unit, _number(body.get("min")), _number(body.get("max")), points))
    webhooks = tuple(
        WebhookCall(
            name=str(call.get("name", "")),
            type=str(call.get("type", "")),
            phase=str(call.get("phase", "")),
            at=str(call.get("at", "")),
            iteration=int(call.get("iteration", 0)),
            duration_seconds=float(call.get("durationSeconds", 0.0)),
            passed=bool(call.get("passed")),
            error=str(call.get("error", "")),
        )
        for call in (_map(c, f"{where}.webhooks[]") for c in _list(data.get("webhooks"), f"{where}.webhooks"))
    )
    phases = tuple(
        PhaseChange(str(item.get("phase", "")), str(item.get("at", "")))
        for item in (_map(p, f"{where}.phases[]") for p in _list(data.get("phases"), f"{where}.phases"))
    )
    events = tuple(
        EventLine(str(item.get("at", "")), str(item.get("type", "")), str(item.get("message", "")))
        for item in (_map(e, f"{where}.events[]") for e in _list(data.get("events"), f"{where}.events"))
    )
    return Run(
        number=int(data.get("number", index + 1)),
        revision=str(data.get("revision", "")),
        started=str(data.get("started", "")),
        ended=data.get("ended") if isinstance(data.get("ended"), str) else None,
        outcome=data.get("outcome") if isinstance(data.get("outcome"), str) else None,
        phases=phases,
        metrics=tuple(metrics),
        webhooks=webhooks,
        events=events,
    )


def parse_history(document: Any) -> History:
    """Validate and convert a history document; HistoryFormatError says what is wrong."""
    data = _map(document, "the history document")
    if data.get("version") != SCHEMA_VERSION:
        raise HistoryFormatError(
            f"history version {data.get('version')!r} is not supported (this flagman reads {SCHEMA_VERSION})"
        )
    canary = _map(data.get("canary") or {}, "canary")
    try:
        runs = tuple(_run(raw, index) for index, raw in enumerate(_list(data.get("runs"), "runs")))
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, HistoryFormatError):
            raise
        raise HistoryFormatError(f"malformed run: {error}") from error
    return History(str(canary.get("name", "")), str(canary.get("namespace", "")), runs)
