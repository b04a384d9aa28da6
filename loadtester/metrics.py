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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
