"""Cost of a steady analysis tick, Flagger and Flagman one after the other on the same API server.

N tutorial-shaped canaries (Deployment, HPA, one tracked ConfigMap and Secret; builtin metrics from the
stub, no webhooks) at a 10 s interval with more iterations than the run lasts. Once every canary has
advanced twice, a window of `ticks` intervals measures, for the controller process alone:

* CPU seconds (utime + stime from /proc) and API requests (the API server's request log or audit log, by
  user agent; watches apart) per analysis step done, and the steps done against the steps scheduled (one
  per canary per interval: fewer when the controller falls behind);
* resident memory (VmRSS) at the end of the window;
* tick lateness: for each analysis step seen in the window (a status write that raises `iterations`, seen
  by a watch on Canaries), the time since that canary's previous step minus one interval (0 = on
  schedule; a controller that falls behind shows its whole delay), p50 and p99. Status, not events: both
  controllers write one status per analysis step, and Flagger's events are rate limited.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import statistics
import time
from dataclasses import dataclass, field

from bench.compare.backend import Backend
from bench.compare.controllers import Controller, Kind
from bench.compare.scenarios import INTERVAL, Stage
from bench.compare.stand_ins import ensure_crds, start_prometheus
from bench.compare.trace import Trace
from controller.kube.api import KubeApi
from tests.controller.integration.harness import RolloutSimulator
from tests.controller.kube.support import create_namespace

HARNESS_AGENT = "flagman-compare-cost"
INTERVAL_SECONDS = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    kind: str
    cpu_per_tick: float
    requests_per_tick: float
    rss_mib: float
    lateness_p50: float
    lateness_p99: float
    steps_done: float  # analysis steps done / steps scheduled (one per canary per interval)
    by_verb: dict[str, float] = field(default_factory=dict)
    load_average: str = ""
    note: str = ""


@dataclass
class CostRow:
    canaries: int
    flagger: Measurement | None = None
    flagman: Measurement | None = None


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def _rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _lateness(trace: Trace, since: float, until: float) -> list[float]:
    """For each analysis step seen in [since, until]: the time since the previous one, minus one interval."""
    out: list[float] = []
    for history in trace.statuses.values():
        previous_iterations, previous_at = 0, None
        for status in history:
            iterations = int(status.status.get("iterations") or 0)
            if iterations > previous_iterations:
                if previous_at is not None and since <= status.at <= until:
                    out.append(status.at - previous_at - INTERVAL_SECONDS)
                previous_at = status.at
            previous_iterations = iterations
    return out


async def _measure(server: Backend, workdir: pathlib.Path, n: int, ticks: int, kind: Kind) -> Measurement:
    api = await KubeApi.connect(server.kubeconfig, user_agent=HARNESS_AGENT)
    prometheus, prometheus_runner = await start_prometheus()
    rollouts = RolloutSimulator(api)
    namespace = f"cost-{kind.name}-{n}"
    trace = Trace(api, namespace)
    log = workdir / f"cost-{kind.name}-{n}.log"
    controller = Controller(kind, server.kubeconfig, prometheus.url, namespace, log, server.flagger_binary)
    stage = Stage(api, namespace, trace, prometheus, hooks="", loadtester="")
    names = [f"app{i:04d}" for i in range(n)]
    try:
        await ensure_crds(api)
        await create_namespace(api, namespace)
        await rollouts.start()
        await trace.start()
        progress = _Progress(f"cost N={n} {kind.name}")
        for index, name in enumerate(names):
            await stage.deploy(name, hpa=True, configs=True)
            body = stage.canary(name, hpa=True)
            body["spec"]["analysis"]["iterations"] = 10_000  # never finishes within the run
            await stage.apply(body)
            progress.say(f"created {index + 1}/{n} canaries")
        controller.start()
        await asyncio.get_running_loop().run_in_executor(None, controller.wait_serving)
        budget = 120 + n * 1.0
        await trace.until(
            lambda: all(trace.phase(x) == "Initialized" for x in names), budget, f"{n} canaries Initialized"
        )
        progress.say("all Initialized")
        for name in names:
            await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
        await trace.until(
            lambda: all(_advances(trace, x) >= 2 for x in names), budget, f"{n} canaries advanced twice"
        )
        progress.say(f"all advancing; measuring {ticks} ticks of {INTERVAL}")
        # Start half an interval later: ticks that all canaries take at once (Flagger's, started together)
        # then fall inside the window, not on its edges.
        await asyncio.sleep(INTERVAL_SECONDS / 2)
        start_mark, start_cpu, start_at = server.mark(), _cpu_seconds(controller.pid), time.monotonic()
        await asyncio.sleep(ticks * INTERVAL_SECONDS)
        end_mark, end_cpu, end_at = server.mark(), _cpu_seconds(controller.pid), time.monotonic()
        rss = _rss_mib(controller.pid)
        counted = server.count(start_mark, end_mark, kind.user_agent_prefixes)
        scheduled = n * (end_at - start_at) / INTERVAL_SECONDS
        lateness = _lateness(trace, start_at, end_at)
        steps = len(lateness) or float("nan")  # analysis steps done in the window (status iterations + 1)
        failed = [x for x in names if trace.phase(x) not in {"Progressing"}]
        note = f"{len(lateness)} of {scheduled:.0f} scheduled steps done; {counted.watches} watch requests"
        if failed:
            example = f"{failed[0]}: {trace.phase(failed[0])}"
            note += f"; {len(failed)} canaries not Progressing at the end (e.g. {example})"
        return Measurement(
            kind=kind.name,
            cpu_per_tick=(end_cpu - start_cpu) / steps,
            requests_per_tick=counted.total / steps,
            steps_done=len(lateness) / scheduled,
            rss_mib=rss,
            lateness_p50=_percentile(lateness, 50),
            lateness_p99=_percentile(lateness, 99),
            by_verb={k: v / steps for k, v in counted.by_verb.items()},
            load_average=" ".join(f"{x:.1f}" for x in os.getloadavg()),
            note=note,
        )
    finally:
        controller.stop()
        await trace.stop()
        await rollouts.stop()
        await prometheus_runner.cleanup()
        try:
            await api.request("DELETE", f"/api/v1/namespaces/{namespace}")
        except Exception as error:  # the next run uses a namespace of its own anyway
            print(f"compare: could not delete {namespace}: {error}", flush=True)
        await api.close()


def _advances(trace: Trace, name: str) -> int:
    history = trace.statuses.get(name) or []
    return int(history[-1].status.get("iterations") or 0) if history else 0


class _Progress:
    """At most one progress line every 5 s."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0

    def say(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last > 5 or "all" in text:
            self.last = now
            print(f"compare: {self.label}: {text}", flush=True)


async def run_cost(
    server: Backend, workdir: pathlib.Path, n: int, ticks: int, kinds: tuple[Kind, ...]
) -> CostRow:
    row = CostRow(n)
    for kind in kinds:
        try:
            measurement = await _measure(server, workdir, n, ticks, kind)
        except (TimeoutError, RuntimeError) as error:
            print(f"compare: cost N={n} {kind.name}: not measured: {error}", flush=True)
            continue
        setattr(row, kind.name, measurement)
    return row
