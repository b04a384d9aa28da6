"""Prometheus metrics: process/platform/GC collectors (Flagger exposes only its runtime's) plus task and
gate metrics. Each application gets its own registry so several can live in one test process."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

PREFIX = "flagman_loadtester"


class TypeMetrics:
    """One task type's children of the task metrics, looked up once: `labels()` takes a lock and builds a
    key on every call, and each blocking request updates five of them. A child is created when first
    used, as `labels()` would, so /metrics shows the same series as before."""

    def __init__(self, metrics: LoadTesterMetrics, task_type: str) -> None:
        self._metrics = metrics
        self._type = task_type
        self.started = metrics.tasks_started.labels(task_type)
        self.running = metrics.tasks_running.labels(task_type)
        self._duration: Histogram | None = None
        self._finished: dict[str, Counter] = {}

    def observe_finished(self, outcome: str, seconds: float) -> None:
        finished = self._finished.get(outcome)
        if finished is None:
            finished = self._finished[outcome] = self._metrics.tasks_finished.labels(self._type, outcome)
        finished.inc()
        if self._duration is None:
            self._duration = self._metrics.task_duration.labels(self._type)
        self._duration.observe(seconds)


class LoadTesterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.tasks_started = Counter(
            f"{PREFIX}_tasks_started_total", "Tasks started, by type.", ["type"], registry=self.registry
        )
        self.tasks_skipped = Counter(
            f"{PREFIX}_tasks_skipped_total",
            "Requests not started because the same task was already running (queued types skip,"
            " blocking types attach to the running one).",
            ["type"],
            registry=self.registry,
        )
        self.tasks_finished = Counter(
            f"{PREFIX}_tasks_finished_total",
            "Tasks finished, by type and outcome (success, failure, timeout).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.task_duration = Histogram(
            f"{PREFIX}_task_duration_seconds",
            "Task run time, by type.",
            ["type"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.tasks_running = Gauge(
            f"{PREFIX}_tasks_running", "Tasks running now, by type.", ["type"], registry=self.registry
        )
        self.gate_checks = Counter(
            f"{PREFIX}_gate_checks_total",
            "Gate checks, by gate (gate, rollback) and result (approved, denied).",
            ["gate", "result"],
            registry=self.registry,
        )
        self._by_type: dict[str, TypeMetrics] = {}

    def for_type(self, task_type: str) -> TypeMetrics:
        """The task metrics' children for one task type (cached)."""
        children = self._by_type.get(task_type)
        if children is None:
            children = self._by_type[task_type] = TypeMetrics(self, task_type)
        return children

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
