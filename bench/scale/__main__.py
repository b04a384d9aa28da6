"""`python -m bench.scale`: one controller process with N canaries in Blue/Green analysis.

The sandbox API server runs in its own process (`bench.scale.apiserver`), the controller in another
(`python -m controller`, the integration tests' flags), and this process plays the rest of the cluster on
loopback: the Deployment controller (the integration tests' `RolloutSimulator`) and Prometheus (their stub).
N Deployments and N Canaries (the tutorial's, without HPA and webhooks, `iterations` large enough never to
finish) are created, the controller started, and after every Canary is Initialized each Deployment gets a
new image, so all N analyse at `--interval`. Then, over a steady window:

* tick lateness p50/p99/max: time between two "Advance ... iteration" log lines of one canary minus the
  interval (the controller's own timestamps);
* controller CPU per steady tick (`/proc/PID/stat` user+system over the window / ticks in it);
* API requests per tick: the controller's non-watch requests in the API server's request log / ticks;
* resident memory of the controller (VmRSS), cold start (process start to all Initialized) and its CPU;
* the load average beside them, since the machine is shared.

    .venv/bin/python -m bench.scale --canaries 100 --interval 1 [--window 20] [--quick]
    .venv/bin/python -m bench.scale --curve [--points 50@1,100@1,200@1,500@1,1000@10]

`--curve` runs one fresh set-up per point, one after the other, keeps each result as JSON under
`--results` (default bench/scale/results/), draws bench/scale/curve.png (`bench.scale.plot`) and prints
the Markdown table that bench/README.md shows. `python -m bench.scale.sharded` runs the same set-up
(`bench.scale.cluster`) with several sharded controller replicas against one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import aiohttp

from bench.scale.cluster import (
    HARNESS_AGENT,
    apiserver_process,
    create_all,
    new_revision,
    phases,
    prepare,
    progress,
    request_counts,
    wait_for,
)
from bench.scale.measure import Ticks, cpu_seconds, load_average, percentile, rss_megabytes
from bench.scale.plot import DEFAULT_OUTPUT
from controller.kube.api import KubeApi
from sandbox.apiserver.testing import kubeconfig_text
from tests.controller.integration.harness import (
    ControllerProcess,
    RolloutSimulator,
    start_prometheus_stub,
)


@dataclass
class Result:
    canaries: int
    interval: float
    window: float
    ticks: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    spacing_max_over_interval: float
    cpu_ms_per_tick: float
    cpu_busy_fraction: float
    requests_per_tick: float
    requests_by_kind: dict[str, float]
    apiserver_cpu_ms_per_request: float
    rss_mb: float
    init_seconds: float
    init_cpu_ms_per_canary: float
    load_average: str


async def run(canaries: int, interval: float, window: float, workdir: pathlib.Path, qps: int) -> Result:
    with apiserver_process(workdir) as (url, server_pid):
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(url))
        api = await KubeApi.connect(str(kubeconfig), user_agent=HARNESS_AGENT)
        session = aiohttp.ClientSession()
        stub, stub_runner = await start_prometheus_stub()
        rollouts = RolloutSimulator(api)
        controller = ControllerProcess(
            str(kubeconfig),
            stub.url,
            workdir / "controller.log",
            # Flagger's default client limit (100 requests/s) caps 2-request ticks at 50/s.
            extra_args=[
                f"-kubeconfig-qps={qps}",
                f"-kubeconfig-burst={2 * qps}",
                "-analysis-history-save-interval=60s",  # as measured in bench/README.md
            ],
        )
        try:
            await prepare(api)
            await rollouts.start()
            progress(f"creating {canaries} Deployments and Canaries")
            await create_all(api, canaries, interval)
            progress("starting the controller")
            started = time.monotonic()
            controller.start()
            assert controller.process is not None and controller.process.popen is not None
            pid = controller.process.popen.pid

            async def all_in(phase: str) -> bool:
                counts = await phases(api)
                if (
                    controller.process
                    and controller.process.popen
                    and controller.process.popen.poll() is not None
                ):
                    raise SystemExit(f"the controller exited:\n{controller.log_tail()}")
                progress(f"  {dict(counts)}")
                return counts.get(phase, 0) == canaries

            await wait_for(lambda: all_in("Initialized"), 600, "every Canary Initialized", every=1.0)
            init_seconds = time.monotonic() - started
            init_cpu = cpu_seconds(pid)
            progress(f"all Initialized after {init_seconds:.1f}s; triggering {canaries} rollouts")
            await new_revision(api, canaries)
            await wait_for(lambda: all_in("Progressing"), 600, "every Canary Progressing", every=1.0)
            await asyncio.sleep(2 * interval)  # let the first analysis ticks pass
            progress(f"measuring for {window:.0f}s")
            cursor, _ = await request_counts(session, url, 0)
            cpu_before, wall_before = cpu_seconds(pid), time.time()
            server_cpu_before = cpu_seconds(server_pid)
            await asyncio.sleep(window)
            cpu_after, wall_after = cpu_seconds(pid), time.time()
            server_cpu = cpu_seconds(server_pid) - server_cpu_before
            _, counts = await request_counts(session, url, cursor)
            rss = rss_megabytes(pid)
            load = load_average()
        finally:
            controller.stop()
            await rollouts.stop()
            await stub_runner.cleanup()
            await session.close()
            await api.close()
    ticks = Ticks.from_log_lines(
        (workdir / "controller.log").read_text(errors="replace").splitlines(), wall_before, wall_after
    )
    lateness = ticks.lateness(interval)
    spacings = ticks.spacings()
    all_requests = {key: value for key, value in counts.items() if " watch " not in key}
    own: dict[str, int] = {}
    for key, value in counts.items():
        agent, verb, resource = key.split(" ", 2)
        if agent != HARNESS_AGENT and verb != "watch" and not resource.startswith("/bench/"):
            own[f"{agent} {verb} {resource}"] = value
    count = max(ticks.count, 1)
    return Result(
        canaries=canaries,
        interval=interval,
        window=window,
        ticks=ticks.count,
        lateness_p50_ms=1000 * percentile(lateness, 0.5),
        lateness_p99_ms=1000 * percentile(lateness, 0.99),
        lateness_max_ms=1000 * max(lateness, default=float("nan")),
        spacing_max_over_interval=max(spacings, default=float("nan")) / interval,
        cpu_ms_per_tick=1000 * (cpu_after - cpu_before) / count,
        cpu_busy_fraction=(cpu_after - cpu_before) / (wall_after - wall_before),
        requests_per_tick=sum(own.values()) / count,
        requests_by_kind={key: round(value / count, 3) for key, value in sorted(own.items())},
        apiserver_cpu_ms_per_request=1000 * server_cpu / max(1, sum(all_requests.values())),
        rss_mb=rss,
        init_seconds=init_seconds,
        init_cpu_ms_per_canary=1000 * init_cpu / canaries,
        load_average=load,
    )


DEFAULT_CURVE = "50@1,100@1,200@1,500@1,1000@10"
DEFAULT_RESULTS = pathlib.Path("bench/scale/results")


def parse_points(text: str) -> list[tuple[int, float]]:
    """`"50@1,1000@10"` -> [(50, 1.0), (1000, 10.0)]: canaries @ interval in seconds."""
    points = []
    for part in text.split(","):
        canaries, at, interval = part.strip().partition("@")
        try:
            point = (int(canaries), float(interval))
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not CANARIES@SECONDS (e.g. 500@1)") from None
        if not at or point[0] < 1 or point[1] <= 0:
            raise ValueError(f"{part.strip()!r} is not CANARIES@SECONDS with positive numbers")
        points.append(point)
    return points


def markdown_row(result: Result) -> str:
    return (
        f"| {result.canaries:,} @ {result.interval:g}s"
        f" | {result.lateness_p50_ms:.0f} / {result.lateness_p99_ms:.0f} / {result.lateness_max_ms:.0f} ms"
        f" | {result.spacing_max_over_interval:.2f}x"
        f" | {result.cpu_ms_per_tick:.2f} ms | {result.requests_per_tick:.2f}"
        f" | {result.rss_mb:.0f} MB"
        f" | {result.init_seconds:.1f} s ({result.init_cpu_ms_per_canary:.0f} ms)"
        f" | {result.load_average} |"
    )


MARKDOWN_HEADER = (
    "| canaries @ interval | lateness p50 / p99 / max | max spacing | CPU / steady tick | API req / tick"
    " | RSS | cold start (CPU / canary) | load average (1, 5, 15 min) |\n"
    "|---|---|---|---|---|---|---|---|"
)


def run_curve(
    points: list[tuple[int, float]],
    window: float | None,
    qps: int,
    results: pathlib.Path,
    output: pathlib.Path,
) -> list[Result]:
    results.mkdir(parents=True, exist_ok=True)
    done: list[Result] = []
    for number, (canaries, interval) in enumerate(points, 1):
        progress(f"curve point {number}/{len(points)}: {canaries} canaries at {interval:g}s")
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="flagman-bench-scale-"))
        result = asyncio.run(run(canaries, interval, window or max(20.0, 4 * interval), workdir, qps))
        (results / f"{canaries}@{interval:g}s.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
        progress(markdown_row(result))
        done.append(result)
    from bench.scale.plot import plot  # matplotlib only when drawing

    plot([asdict(result) for result in done], output)
    progress(f"wrote {output} and {len(done)} results under {results}/")
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--canaries", type=int, default=100, help="number of Canaries (default 100)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="analysis interval in seconds (default 1)"
    )
    parser.add_argument(
        "--window", type=float, help="steady window in seconds (default max(20, 4 intervals))"
    )
    parser.add_argument("--quick", action="store_true", help="50 canaries at 1s for 10s (under a minute)")
    parser.add_argument(
        "--qps",
        type=int,
        default=1000,
        help="the controller's -kubeconfig-qps (burst twice that; default 1000)",
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help="run every point of --points, save the results, draw the curve (a few minutes)",
    )
    parser.add_argument(
        "--points", default=DEFAULT_CURVE, help=f"the curve's CANARIES@SECONDS list (default {DEFAULT_CURVE})"
    )
    parser.add_argument(
        "--results", type=pathlib.Path, default=DEFAULT_RESULTS, help="where --curve keeps its JSON results"
    )
    parser.add_argument(
        "--plot", type=pathlib.Path, default=DEFAULT_OUTPUT, help="the curve's image (.png or .svg)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", type=pathlib.Path, help="keep the logs in this directory")
    options = parser.parse_args(argv)
    if options.curve:
        try:
            points = parse_points(options.points)
        except ValueError as error:
            parser.error(str(error))
        curve = run_curve(points, options.window, options.qps, options.results, options.plot)
        print(MARKDOWN_HEADER)
        for result in curve:
            print(markdown_row(result))
        return 0
    if options.quick:
        options.canaries, options.interval, options.window = 50, 1.0, options.window or 10.0
    if options.canaries < 1 or options.interval <= 0:
        parser.error("--canaries must be at least 1 and --interval positive")
    window = options.window or max(20.0, 4 * options.interval)
    workdir = options.keep or pathlib.Path(tempfile.mkdtemp(prefix="flagman-bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(options.canaries, options.interval, window, workdir, options.qps))
    if options.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"canaries {result.canaries} at {result.interval:g}s:"
            f" ticks {result.ticks} in {result.window:.0f}s,"
            f" lateness p50 {result.lateness_p50_ms:.0f} ms p99 {result.lateness_p99_ms:.0f} ms"
            f" max {result.lateness_max_ms:.0f} ms"
            f" (max spacing {result.spacing_max_over_interval:.2f}x interval),"
            f" CPU {result.cpu_ms_per_tick:.2f} ms/tick ({100 * result.cpu_busy_fraction:.0f}% of a core),"
            f" {result.requests_per_tick:.2f} requests/tick"
            f" (API server {result.apiserver_cpu_ms_per_request:.2f} ms CPU/request),"
            f" RSS {result.rss_mb:.0f} MB,"
            f" cold start {result.init_seconds:.1f}s ({result.init_cpu_ms_per_canary:.0f} ms CPU/canary),"
            f" load average {result.load_average}"
        )
        for kind, per_tick in result.requests_by_kind.items():
            print(f"  {per_tick:.3f}/tick  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
