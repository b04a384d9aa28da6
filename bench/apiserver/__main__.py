"""`python -m bench.apiserver`: throughput, watch fan-out latency and memory of the sandbox API server.

The server runs as its own process (`flagman sandbox apiserver`), the client is this one process on
loopback. Everything is bounded by count or time; the results table goes to bench/README.md by hand.

    .venv/bin/python -m bench.apiserver [--seconds 5] [--watchers 100] [--objects 10000]
                                        [--only throughput|cpu]   (cpu: bench/apiserver/cpu.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

from bench.apiserver import cpu
from bench.apiserver.harness import RawConnection, percentile, server_process

MERGE = "application/merge-patch+json"
SEQ = re.compile(rb'"seq":"(\d+)"')


async def throughput(
    base: str, method: str, path: str, seconds: float, workers: int
) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency (ms) of `workers` keep-alive connections for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        connection = await RawConnection.open(base)
        try:
            while time.perf_counter() < deadline:
                counter += 1
                started = time.perf_counter()
                if method == "GET":
                    status = await connection.request("GET", path)
                else:  # every PATCH changes the object, so none is a no-op
                    body = json.dumps({"data": {"counter": str(counter)}}).encode()
                    status = await connection.request("PATCH", path, body, MERGE)
                if status != 200:
                    raise SystemExit(f"{method} {path}: HTTP {status}")
                latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


async def watch_fanout(
    session: aiohttp.ClientSession, base: str, watchers: int, writes: int, rate: float
) -> tuple[float, float, float, int]:
    """One writer, `watchers` watches of one object: delivery latency p50/p99/max (ms), events received."""
    url = f"{base}/api/v1/namespaces/default/configmaps"
    async with session.post(url, json={"metadata": {"name": "fanout"}}) as response:
        created = await response.json()
    rv = created["metadata"]["resourceVersion"]
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    ready = 0
    all_ready = asyncio.Event()

    async def watcher() -> None:
        nonlocal ready
        query = f"?watch=true&fieldSelector=metadata.name%3Dfanout&resourceVersion={rv}&timeoutSeconds=120"
        async with session.get(url + query) as response:
            ready += 1
            if ready == watchers:
                all_ready.set()
            received = 0
            while received < writes:
                line = await response.content.readline()
                if not line:
                    return
                arrived = time.perf_counter()
                found = SEQ.search(line)  # cheaper than json.loads: 100 watchers share this process
                marker = found.group(1).decode() if found else None
                if marker in sent_at:
                    latencies.append(arrived - sent_at[marker])
                    received += 1

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await asyncio.wait_for(all_ready.wait(), 30)
    await asyncio.sleep(0.2)
    for seq in range(writes):
        marker = str(seq)
        sent_at[marker] = time.perf_counter()
        body = json.dumps({"data": {"seq": marker}})
        async with session.patch(f"{url}/fanout", data=body, headers={"Content-Type": MERGE}) as response:
            await response.read()
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return (
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
        max(latencies) * 1000,
        len(latencies),
    )


def realistic_objects(count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """A mix close to a small cluster: ConfigMaps, Secrets, Pods, Deployments, Services, Events."""
    container = {
        "name": "app",
        "image": "stefanprodan/podinfo:6.0.0",
        "ports": [{"containerPort": 9898, "name": "http"}],
        "env": [{"name": f"VAR_{i}", "value": "x" * 20} for i in range(5)],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }
    labels = {"app": "bench", "team": "delivery", "app.kubernetes.io/managed-by": "Helm"}
    for i in range(count):
        name = f"obj-{i:05d}"
        kind = i % 10
        if kind < 3:
            yield (
                "/api/v1/namespaces/default/configmaps",
                {
                    "metadata": {"name": name, "labels": labels},
                    "data": {f"key{j}": "v" * 40 for j in range(8)},
                },
            )
        elif kind < 4:
            yield (
                "/api/v1/namespaces/default/secrets",
                {
                    "metadata": {"name": name, "labels": labels},
                    "data": {"token": "dG9rZW4=" * 20},
                },
            )
        elif kind < 6:
            yield (
                "/api/v1/namespaces/default/pods",
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"containers": [container]},
                },
            )
        elif kind < 7:
            yield (
                "/apis/apps/v1/namespaces/default/deployments",
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [container]},
                        },
                    },
                },
            )
        elif kind < 8:
            yield (
                "/api/v1/namespaces/default/services",
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 9898}]},
                },
            )
        else:
            yield (
                "/api/v1/namespaces/default/events",
                {
                    "metadata": {"name": name},
                    "involvedObject": {"kind": "Pod", "name": name, "namespace": "default"},
                    "reason": "Started",
                    "message": "Started container app " + "x" * 60,
                    "type": "Normal",
                },
            )


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def fill(session: aiohttp.ClientSession, base: str, count: int) -> None:
    queue = list(realistic_objects(count))

    async def worker(items: list[tuple[str, dict[str, Any]]]) -> None:
        for path, body in items:
            async with session.post(base + path, json=body) as response:
                if response.status != 201:
                    raise SystemExit(f"POST {path}: HTTP {response.status}: {await response.text()}")

    await asyncio.gather(*(worker(queue[i::8]) for i in range(8)))


def hey_get(url: str, seconds: float, workers: int) -> tuple[str, str]:
    """GET throughput measured by `hey` (one Go client process: the server is the bottleneck)."""
    hey = shutil.which("hey")
    if hey is None:
        return "skipped", "hey not on PATH"
    result = subprocess.run(
        [hey, "-z", f"{seconds}s", "-c", str(workers), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    p99 = re.search(r"99% in ([\d.]+) secs", result.stdout)
    codes = re.findall(r"\[(\d+)\]\s+\d+ responses", result.stdout)
    if rate is None or p99 is None or codes != ["200"]:
        raise SystemExit(f"hey failed:\n{result.stdout}\n{result.stderr}")
    return (
        f"{float(rate.group(1)):,.0f} req/s",
        f"p99 {float(p99.group(1)) * 1000:.2f} ms, {workers} connections",
    )


async def run(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with server_process() as (base, _):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            path = "/api/v1/namespaces/default/configmaps/one"
            one = base + path
            async with session.post(
                f"{base}/api/v1/namespaces/default/configmaps",
                json={"metadata": {"name": "one"}, "data": {"a": "b"}},
            ) as response:
                assert response.status == 201
            rate_text, detail = hey_get(one, args.seconds, args.workers)
            rows.append(("GET one object (hey)", rate_text, f"{detail} (target ≥ 2,000/s)"))
            rate, p50, p99 = await throughput(base, "GET", path, args.seconds, args.workers)
            rows.append(
                (
                    "GET one object (Python keep-alive client)",
                    f"{rate:,.0f} req/s",
                    f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                )
            )
            rate, p50, p99 = await throughput(base, "PATCH", path, args.seconds, args.workers)
            rows.append(
                (
                    "merge PATCH one object (Python keep-alive client, each a change)",
                    f"{rate:,.0f} req/s",
                    f"p50 {p50:.2f} ms, p99 {p99:.2f} ms (target ≥ 800/s)",
                )
            )
            p50, p99, worst, received = await watch_fanout(
                session, base, args.watchers, args.writes, args.rate
            )
            rows.append(
                (
                    f"watch fan-out, 1 writer → {args.watchers} watchers",
                    f"p99 {p99:.1f} ms",
                    f"p50 {p50:.1f} ms, max {worst:.1f} ms, {received} deliveries of {args.writes} writes "
                    "(target p99 < 50 ms)",
                )
            )
    with server_process() as (base, pid):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            baseline = rss_mb(pid)
            started = time.perf_counter()
            await fill(session, base, args.objects)
            filled = time.perf_counter() - started
            rows.append(
                (
                    f"resident memory, {args.objects:,} objects",
                    f"{rss_mb(pid):.0f} MB",
                    f"empty server {baseline:.0f} MB; created in {filled:.1f} s (target ≤ 200 MB)",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apiserver", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--workers", type=int, default=8, help="concurrent requests in the throughput runs")
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--writes", type=int, default=200, help="writes during the fan-out run")
    parser.add_argument("--rate", type=float, default=50.0, help="writes per second during the fan-out run")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--only",
        choices=("throughput", "cpu"),
        help="throughput: the table above only; cpu: CPU per write only (`python -m bench.apiserver.cpu`)",
    )
    args = parser.parse_args(argv)
    if args.only != "cpu":
        rows = asyncio.run(run(args))
        print(f"\nsandbox API server, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
        print("| measurement | result | detail |")
        print("|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if args.only != "throughput":
        return cpu.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
