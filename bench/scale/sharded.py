"""`python -m bench.scale.sharded`: N canaries over several sharded controller replicas, against one.

The set-up is `python -m bench.scale`'s (the sandbox API server in its own process, the Deployment
controller and Prometheus played on loopback, every Canary in Blue/Green analysis at `--interval`), run
twice at the same N: once with one controller without sharding (the baseline), once with `--replicas`
controller processes with `-enable-sharding`. For each replica, over the steady window: the canaries it
ticked and the shards it held, its ticks per second, CPU per steady tick, tick lateness p50/p99 and RSS; for
the whole, ticks per second and lateness. Then the replica with the most canaries is SIGKILLed and the bench
measures how long until the survivors hold its shard Leases and until every one of its canaries ticked
again on a survivor (the lease duration bounds the first).

    .venv/bin/python -m bench.scale.sharded --canaries 100 --interval 1 --replicas 3 [--window 15]

Every process shares the machine: on 2 cores, three replicas plus the API server cannot beat one replica on
throughput; what this shows is the balance, the per-replica cost and the takeover time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from bench.scale.cluster import (
    NAMESPACE,
    apiserver_process,
    create_all,
    new_revision,
    phases,
    prepare,
    progress,
    wait_for,
)
from bench.scale.measure import LogTail, Ticks, cpu_seconds, load_average, percentile, rss_megabytes
from controller.kube.api import KubeApi
from controller.sharding.leases import LEASE_LABEL, LEASES, shard_number
from sandbox.apiserver.testing import kubeconfig_text
from tests.controller.integration.harness import ControllerProcess, RolloutSimulator, start_prometheus_stub


@dataclass(frozen=True)
class LeaseTimings:
    duration: float = 15.0  # the chart's defaults (client-go's)
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def flags(self, shards: int) -> list[str]:
        return [
            "-enable-sharding",
            f"-shards={shards}",
            f"-leader-election-namespace={NAMESPACE}",
            f"-shard-lease-duration={self.duration * 1000:g}ms",
            f"-shard-renew-deadline={self.renew_deadline * 1000:g}ms",
            f"-shard-retry-period={self.retry_period * 1000:g}ms",
        ]


@dataclass
class ReplicaResult:
    index: int
    canaries: int
    shards: int
    ticks: int
    ticks_per_second: float
    cpu_ms_per_tick: float
    cpu_busy_fraction: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    rss_mb: float


@dataclass
class Takeover:
    moved_canaries: int
    moved_shards: int
    leases_seconds: float  # SIGKILL -> every shard held by a survivor
    ticks_seconds: float  # SIGKILL -> every moved canary ticked on a survivor


@dataclass
class RunResult:
    replicas: int
    sharded: bool
    canaries: int
    interval: float
    window: float
    init_seconds: float
    ticks_per_second: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    cpu_ms_per_tick: float
    load_average: str
    per_replica: list[ReplicaResult] = field(default_factory=list)
    takeover: Takeover | None = None


async def shard_holders(api: KubeApi) -> dict[int, str]:
    listing = await api.request("GET", LEASES.path(NAMESPACE), query={"labelSelector": LEASE_LABEL})
    holders = {}
    for item in listing.get("items") or []:
        shard = shard_number(str(item["metadata"]["name"]))
        if shard is not None:
            holders[shard] = str((item.get("spec") or {}).get("holderIdentity") or "")
    return holders


def identity(controller: ControllerProcess) -> str:
    """The replica's Lease holder identity, from its `Sharding: ... (identity X)` line."""
    for line in controller.log_path.read_text(errors="replace").splitlines():
        if '"Sharding:' in line:
            return str(json.loads(line)["msg"]).rsplit("(identity ", 1)[1].rstrip(")")
    raise SystemExit(f"no Sharding: line in\n{controller.log_tail()}")


def window_ticks(controller: ControllerProcess, start: float, end: float) -> Ticks:
    lines = controller.log_path.read_text(errors="replace").splitlines()
    return Ticks.from_log_lines(lines, start, end)


def pid_of(controller: ControllerProcess) -> int:
    assert controller.process is not None and controller.process.popen is not None
    return controller.process.popen.pid


def check_alive(controllers: Iterable[ControllerProcess]) -> None:
    for controller in controllers:
        popen = controller.process.popen if controller.process else None
        if popen is not None and popen.poll() is not None:
            raise SystemExit(f"a controller exited:\n{controller.log_tail()}")


async def measure_takeover(
    api: KubeApi, controllers: list[ControllerProcess], victim: int, moved: set[str], lease: LeaseTimings
) -> Takeover:
    """SIGKILL `controllers[victim]`; until its shards are held by the others and its canaries tick there."""
    gone = identity(controllers[victim])
    holders = await shard_holders(api)
    moved_shards = sum(1 for holder in holders.values() if holder == gone)
    survivors = [controller for index, controller in enumerate(controllers) if index != victim]
    progress(f"SIGKILL replica {victim} ({len(moved)} canaries, {moved_shards} shards)")
    tails = [LogTail(controller.log_path) for controller in survivors]
    killed_wall, killed = time.time(), time.monotonic()
    controllers[victim].kill()
    limit = 3 * lease.duration + 30

    async def leases_moved() -> bool:
        now = await shard_holders(api)
        return all(holder and holder != gone for holder in now.values())

    await wait_for(leases_moved, limit, "the killed replica's shards taken over", every=0.1)
    leases_seconds = time.monotonic() - killed

    resumed: set[str] = set()

    async def ticking_again() -> bool:
        check_alive(survivors)
        end = time.time()
        for tail in tails:
            resumed.update(Ticks.from_log_lines(tail.new_lines(), killed_wall, end).times)
        return moved <= resumed

    await wait_for(ticking_again, limit, "the killed replica's canaries ticking again", every=0.1)
    return Takeover(len(moved), moved_shards, leases_seconds, time.monotonic() - killed)


async def run(
    canaries: int,
    interval: float,
    window: float,
    replicas: int,
    shards: int,
    lease: LeaseTimings | None,
    workdir: pathlib.Path,
    qps: int,
) -> RunResult:
    """One set-up: `replicas` controllers, sharded when `lease` is given; the takeover when sharded."""
    with apiserver_process(workdir) as (url, _):
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(url))
        api = await KubeApi.connect(str(kubeconfig))
        stub, stub_runner = await start_prometheus_stub()
        rollouts = RolloutSimulator(api)
        extra = [
            f"-kubeconfig-qps={qps}",
            f"-kubeconfig-burst={2 * qps}",
            "-analysis-history-save-interval=60s",  # as `python -m bench.scale` measures
            *(lease.flags(shards) if lease else []),
        ]
        controllers = [
            ControllerProcess(
                str(kubeconfig), stub.url, workdir / f"controller-{index}.log", extra_args=extra
            )
            for index in range(replicas)
        ]
        try:
            await prepare(api)
            await rollouts.start()
            progress(f"creating {canaries} Deployments and Canaries")
            await create_all(api, canaries, interval)
            progress(f"starting {replicas} controller{'s' if replicas > 1 else ''}")
            started = time.monotonic()
            for controller in controllers:
                controller.start()

            async def all_in(phase: str) -> bool:
                check_alive(controllers)
                counts = await phases(api)
                progress(f"  {dict(counts)}")
                return counts.get(phase, 0) == canaries

            await wait_for(lambda: all_in("Initialized"), 300, "every Canary Initialized", every=1.0)
            init_seconds = time.monotonic() - started
            progress(f"all Initialized after {init_seconds:.1f}s; triggering {canaries} rollouts")
            await new_revision(api, canaries)
            await wait_for(lambda: all_in("Progressing"), 300, "every Canary Progressing", every=1.0)
            await asyncio.sleep(2 * interval)
            progress(f"measuring for {window:.0f}s")
            pids = [pid_of(controller) for controller in controllers]
            cpu_before, wall_before = [cpu_seconds(pid) for pid in pids], time.time()
            await asyncio.sleep(window)
            cpu_after, wall_after = [cpu_seconds(pid) for pid in pids], time.time()
            rss = [rss_megabytes(pid) for pid in pids]
            load = load_average()
            check_alive(controllers)
            holders = await shard_holders(api) if lease else {}
            ticks = [window_ticks(controller, wall_before, wall_after) for controller in controllers]
            per_replica = []
            for index, controller in enumerate(controllers):
                held = sum(1 for holder in holders.values() if lease and holder == identity(controller))
                cpu = cpu_after[index] - cpu_before[index]
                measured = wall_after - wall_before
                per_replica.append(
                    replica_result(index, ticks[index], held, cpu, rss[index], interval, measured)
                )
            takeover = None
            if lease and replicas > 1:
                victim = max(range(replicas), key=lambda index: per_replica[index].canaries)
                takeover = await measure_takeover(api, controllers, victim, set(ticks[victim].times), lease)
        finally:
            for controller in controllers:
                controller.stop()
            await rollouts.stop()
            await stub_runner.cleanup()
            await api.close()
    lateness = [value for replica in ticks for value in replica.lateness(interval)]
    total = sum(replica.count for replica in ticks)
    return RunResult(
        replicas=replicas,
        sharded=lease is not None,
        canaries=canaries,
        interval=interval,
        window=wall_after - wall_before,
        init_seconds=init_seconds,
        ticks_per_second=total / (wall_after - wall_before),
        lateness_p50_ms=1000 * percentile(lateness, 0.5),
        lateness_p99_ms=1000 * percentile(lateness, 0.99),
        cpu_ms_per_tick=1000 * sum(a - b for a, b in zip(cpu_after, cpu_before, strict=True)) / max(1, total),
        load_average=load,
        per_replica=per_replica,
        takeover=takeover,
    )


def replica_result(
    index: int, ticks: Ticks, shards: int, cpu: float, rss: float, interval: float, window: float
) -> ReplicaResult:
    lateness = ticks.lateness(interval)
    return ReplicaResult(
        index=index,
        canaries=len(ticks.times),
        shards=shards,
        ticks=ticks.count,
        ticks_per_second=ticks.count / window,
        cpu_ms_per_tick=1000 * cpu / max(1, ticks.count),
        cpu_busy_fraction=cpu / window,
        lateness_p50_ms=1000 * percentile(lateness, 0.5),
        lateness_p99_ms=1000 * percentile(lateness, 0.99),
        rss_mb=rss,
    )


def markdown(single: RunResult | None, sharded: RunResult) -> str:
    """The table bench/README.md shows: one row per replica, then the totals against one replica."""
    rows = [
        "| | canaries (shards) | ticks/s | CPU / steady tick | busy | lateness p50 / p99 | RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for replica in sharded.per_replica:
        rows.append(
            f"| replica {replica.index} | {replica.canaries} ({replica.shards})"
            f" | {replica.ticks_per_second:.1f} | {replica.cpu_ms_per_tick:.2f} ms"
            f" | {100 * replica.cpu_busy_fraction:.0f}% | {replica.lateness_p50_ms:.0f} / "
            f"{replica.lateness_p99_ms:.0f} ms | {replica.rss_mb:.0f} MB |"
        )
    totals = [(f"{sharded.replicas} sharded replicas", sharded)] + ([("1 replica", single)] if single else [])
    for label, result in totals:
        busy = sum(replica.cpu_busy_fraction for replica in result.per_replica)
        rows.append(
            f"| **{label}** | {result.canaries} | {result.ticks_per_second:.1f}"
            f" | {result.cpu_ms_per_tick:.2f} ms | {100 * busy:.0f}%"
            f" | {result.lateness_p50_ms:.0f} / {result.lateness_p99_ms:.0f} ms"
            f" | {sum(replica.rss_mb for replica in result.per_replica):.0f} MB |"
        )
    lines = ["\n".join(rows)]
    if sharded.takeover is not None:
        takeover = sharded.takeover
        lines.append(
            f"SIGKILL of the replica with the most canaries ({takeover.moved_canaries} canaries,"
            f" {takeover.moved_shards} shards): its shard Leases held by the survivors after"
            f" {takeover.leases_seconds:.1f} s, all its canaries ticking again after"
            f" {takeover.ticks_seconds:.1f} s."
        )
    lines.append(
        f"Cold start to all Initialized: {sharded.init_seconds:.1f} s ({sharded.replicas} replicas)"
        + (f", {single.init_seconds:.1f} s (1 replica)" if single else "")
        + f". Load average (1, 5, 15 min) after the windows: {sharded.load_average} (sharded)"
        + (f", {single.load_average} (1 replica)." if single else ".")
    )
    return "\n\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale.sharded", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--canaries", type=int, default=100, help="number of Canaries (default 100)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="analysis interval in seconds (default 1)"
    )
    parser.add_argument("--replicas", type=int, default=3, help="sharded controller replicas (default 3)")
    parser.add_argument("--shards", type=int, default=24, help="shard Leases (default 24: 8 per replica)")
    parser.add_argument("--window", type=float, default=15.0, help="steady window in seconds (default 15)")
    parser.add_argument(
        "--lease-duration", type=float, default=15.0, help="-shard-lease-duration in seconds (default 15)"
    )
    parser.add_argument(
        "--renew-deadline", type=float, default=10.0, help="-shard-renew-deadline in seconds (default 10)"
    )
    parser.add_argument(
        "--retry-period", type=float, default=2.0, help="-shard-retry-period in seconds (default 2)"
    )
    parser.add_argument(
        "--qps", type=int, default=1000, help="each controller's -kubeconfig-qps (default 1000)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-replica run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", type=pathlib.Path, help="keep the logs in this directory")
    options = parser.parse_args(argv)
    if options.canaries < 1 or options.interval <= 0 or options.window <= 0:
        parser.error("--canaries must be at least 1, --interval and --window positive")
    if not 2 <= options.replicas <= options.shards:
        parser.error("--replicas must be at least 2 and at most --shards")
    lease = LeaseTimings(options.lease_duration, options.renew_deadline, options.retry_period)
    workdir = options.keep or pathlib.Path(tempfile.mkdtemp(prefix="flagman-bench-sharded-"))
    for directory in ("single", "sharded"):
        (workdir / directory).mkdir(parents=True, exist_ok=True)
    common = (options.canaries, options.interval, options.window)
    single = None
    if not options.no_baseline:
        progress(f"baseline: 1 replica, {options.canaries} canaries at {options.interval:g}s")
        single = asyncio.run(run(*common, 1, options.shards, None, workdir / "single", options.qps))
    progress(f"{options.replicas} sharded replicas, {options.canaries} canaries at {options.interval:g}s")
    sharded = asyncio.run(
        run(*common, options.replicas, options.shards, lease, workdir / "sharded", options.qps)
    )
    if options.json:
        print(
            json.dumps({"single": asdict(single) if single else None, "sharded": asdict(sharded)}, indent=2)
        )
    else:
        print(markdown(single, sharded))
    progress(f"logs under {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
