"""The controller's own observability: Flagger's Prometheus metrics and the /healthz /readyz /metrics server.

Metric names, types and labels are Flagger's (`pkg/metrics/recorder.go`, subsystem `flagger`), so existing
dashboards and alerts keep working. Each `Telemetry` owns its registry (no global state), which keeps
tests and several controllers in one process independent.

`/healthz` is liveness: it fails (HTTP 500) when a registered check reports a problem, for example when
the Canary watch or a watch cache has gone quiet, so the kubelet restarts a zombie operator instead of
leaving it running without reacting. `/readyz` turns 200 once the operator has listed its objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from controller.api import Canary, Phase
from controller.version import VERSION as VERSION  # what `flagger_info` reports

logger = logging.getLogger(__name__)

# Go's client_golang, which Flagger uses, exposes no `*_created` series; prometheus_client would add one per
# counter and histogram child. Process-wide switch, so it is flipped once, when the controller imports this.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Flagger's status gauge: 0 while an analysis runs, 2 after a failure, 1 for every other phase.
PHASE_STATUS_VALUES = {"Progressing": 0, "Failed": 2}

LivenessCheck = Callable[[], str | None]
"""Returns None when healthy, otherwise a short reason shown in the /healthz body."""


class ControllerMetrics:
    """Flagger's controller metrics on a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.info = Gauge(
            "flagger_info",
            "Flagger version and mesh provider information",
            ["version", "mesh_provider"],
            registry=self.registry,
        )
        self.total = Gauge(
            "flagger_canary_total", "Total number of canary object", ["namespace"], registry=self.registry
        )
        self.status = Gauge(
            "flagger_canary_status",
            "Last canary analysis result (0 - running, 1 - successful, 2 - failed)",
            ["name", "namespace"],
            registry=self.registry,
        )
        self.weight = Gauge(
            "flagger_canary_weight",
            "The virtual service destination weight current value",
            ["workload", "namespace"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "flagger_canary_duration_seconds",
            "Seconds spent performing canary analysis.",
            ["name", "namespace"],
            registry=self.registry,
        )
        self.metric_analysis = Gauge(
            "flagger_canary_metric_analysis",
            "Last canary analysis metric result",
            ["name", "namespace", "metric"],
            registry=self.registry,
        )
        self.successes = Counter(
            "flagger_canary_successes",
            "Total number of canary successful promotions",
            ["name", "namespace", "deployment_strategy", "analysis_status"],
            registry=self.registry,
        )
        self.shards_held = Gauge(
            "flagman_shard_held",
            "1 while this replica holds the shard (-enable-sharding); summed over replicas, 1 per shard",
            ["shard"],
            registry=self.registry,
        )
        self.failures = Counter(
            "flagger_canary_failures",
            "Total number of canary failures",
            ["name", "namespace", "deployment_strategy", "analysis_status"],
            registry=self.registry,
        )

    def set_shard_held(self, shard: int, held: bool) -> None:
        """Flagman only (`-enable-sharding`): 1 for each shard this replica holds, 0 once given up."""
        self.shards_held.labels(shard=str(shard)).set(1 if held else 0)

    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)` (label values in the metric's label order), looked up once: every tick
        updates four series per canary, and prometheus_client's `labels` validates and locks each time."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def set_info(self, version: str, mesh_provider: str) -> None:
        self.info.labels(version=version, mesh_provider=mesh_provider).set(1)

    def set_total(self, namespace: str, count: int) -> None:
        self.total.labels(namespace=namespace).set(count)

    def set_status(self, target: str, namespace: str, phase: str) -> None:
        """`name` is the target name, as in Flagger."""
        self._child(self.status, target, namespace).set(PHASE_STATUS_VALUES.get(phase, 1))

    def set_weight(self, target: str, namespace: str, primary: int, canary: int) -> None:
        self._child(self.weight, f"{target}-primary", namespace).set(primary)
        self._child(self.weight, target, namespace).set(canary)

    def observe_duration(self, name: str, namespace: str, seconds: float) -> None:
        self._child(self.duration, name, namespace).observe(seconds)

    def set_metric_analysis(self, name: str, namespace: str, metric: str, value: float) -> None:
        self._child(self.metric_analysis, name, namespace, metric).set(value)

    def count_success(
        self, name: str, namespace: str, *, strategy: str = "canary", analysis_status: str = "completed"
    ) -> None:
        self.successes.labels(
            name=name, namespace=namespace, deployment_strategy=strategy, analysis_status=analysis_status
        ).inc()

    def count_failure(self, name: str, namespace: str, *, strategy: str = "canary") -> None:
        self.failures.labels(
            name=name, namespace=namespace, deployment_strategy=strategy, analysis_status="completed"
        ).inc()

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


def deployment_strategy(canary: Canary) -> str:
    """Flagger 1.44's `DeploymentStrategy()` label value: only `ab-testing` (match and iterations),
    `blue-green` (iterations) or `canary` (anything else, mirroring included)."""
    analysis = canary.analysis
    if analysis.iterations > 0:
        return "ab-testing" if analysis.match else "blue-green"
    return "canary"


class CanaryTelemetry:
    """The rollout's `Telemetry` port on top of `ControllerMetrics` (`name` labels carry the target name,
    as in Flagger)."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self.metrics = metrics

    def canary_status(self, canary: Canary, phase: Phase) -> None:
        self.metrics.set_status(canary.target_name, canary.namespace, str(phase))

    def canary_weights(self, canary: Canary, *, primary: int, canary_weight: int) -> None:
        self.metrics.set_weight(canary.target_name, canary.namespace, primary, canary_weight)

    def promotion(self, canary: Canary, *, skipped: bool) -> None:
        self.metrics.count_success(
            canary.target_name,
            canary.namespace,
            strategy=deployment_strategy(canary),
            analysis_status="skipped" if skipped else "completed",
        )

    def failure(self, canary: Canary) -> None:
        self.metrics.count_failure(canary.target_name, canary.namespace, strategy=deployment_strategy(canary))

    def tick_duration(self, canary: Canary, seconds: float) -> None:
        self.metrics.observe_duration(canary.target_name, canary.namespace, seconds)

    def metric_value(self, canary: Canary, metric: str, value: float) -> None:
        self.metrics.set_metric_analysis(canary.target_name, canary.namespace, metric, value)


@dataclass
class Health:
    """Liveness checks and the readiness flag behind /healthz and /readyz."""

    checks: list[LivenessCheck] = field(default_factory=list)
    ready: bool = False
    starting: dict[str, str] = field(default_factory=dict)  # what the start waits for, and why

    def waiting(self, what: str, reason: str | None) -> None:
        """The start waits for `what` because of `reason` (None: no longer); see `WatchCache.start`."""
        if reason is None:
            self.starting.pop(what, None)
        else:
            self.starting[what] = reason

    def waits(self) -> list[str]:
        return [f"waiting for the API server: {reason}" for _, reason in sorted(self.starting.items())]

    def problems(self) -> list[str]:
        found = []
        for check in self.checks:
            try:
                problem = check()
            except Exception as error:  # a broken check must not take the endpoint down
                problem = f"liveness check failed: {error}"
            if problem:
                found.append(problem)
        return found


class HistoryReader(Protocol):
    """What `/history` serves (`controller.rollout.history.HistoryBook`)."""

    def document(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def canaries(self) -> list[tuple[str, str]]: ...


METRICS_KEY = web.AppKey("metrics", ControllerMetrics)
HEALTH_KEY = web.AppKey("health", Health)
HISTORY_KEY = web.AppKey("history", HistoryReader)


async def _healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]
    if waits := health.waits():  # starting: not healthy yet (the chart probes readiness here too)
        return web.Response(status=503, text="\n".join(waits) + "\n")
    problems = health.problems()
    if problems:
        return web.Response(status=500, text="\n".join(problems) + "\n")
    return web.Response(text="OK")


async def _readyz(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]
    if health.ready:
        return web.Response(text="OK")
    return web.Response(status=503, text="\n".join(["not ready", *health.waits()]) + "\n")


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS_KEY].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _history_index(request: web.Request) -> web.Response:
    canaries = request.app[HISTORY_KEY].canaries()
    return web.json_response({"canaries": [{"namespace": ns, "name": name} for ns, name in canaries]})


async def _history(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    document = request.app[HISTORY_KEY].document(namespace, name)
    if document is None:
        raise web.HTTPNotFound(text=f"no analysis history for canary {name}.{namespace} in this controller\n")
    return web.json_response(document)


def create_app(
    metrics: ControllerMetrics, health: Health, history: HistoryReader | None = None
) -> web.Application:
    app = web.Application()
    app[METRICS_KEY] = metrics
    app[HEALTH_KEY] = health
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    if history is not None:  # the analysis history, as JSON (docs/visibility.md)
        app[HISTORY_KEY] = history
        app.router.add_get("/history", _history_index)
        app.router.add_get("/history/{namespace}/{name}", _history)
    return app


class TelemetryServer:
    """The HTTP side server, started and stopped by `controller.wiring`; it installs no signal handlers."""

    def __init__(
        self,
        metrics: ControllerMetrics,
        health: Health,
        host: str = "",
        port: int = 8080,
        history: HistoryReader | None = None,
    ) -> None:
        """`host` empty: every interface (IPv4 and IPv6), as Flagger's `:8080` does."""
        app = create_app(metrics, health, history)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        self._host = host
        self._port = port

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host or None, self._port).start()
        logger.info(
            "Serving /metrics, /healthz and /readyz on %s:%d", self._host or "all interfaces", self._port
        )

    async def stop(self) -> None:
        await self._runner.cleanup()
