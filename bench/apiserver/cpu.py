"""`python -m bench.apiserver.cpu`: the sandbox API server's CPU time per write, the controller's requests.

What one analysis tick costs the emulator (issue 13): a Canary status write (PUT of the object, and the
JSON merge patch of `/status` with a resourceVersion precondition the controller sends), an
events.k8s.io/v1 Event POST, and the fan-out of a status write to W open watches of the Canaries. The
server runs as its own process; its CPU time (utime + stime from /proc, so other load on the machine
does not count as the server's) is read before and after each batch of sequential requests on one
keep-alive connection. Rounds interleave the scenarios; the median and the minimum (the round least
disturbed by other processes: contention inflates CPU time, never deflates it) are reported, with the
1-minute load average beside them. Per delivery = (CPU per write with W watches - without) / W. With
`--baseline CHECKOUT` a second server runs from another checkout in the same rounds, alternating which
goes first. Bounded by counts (about 40 s with the defaults, twice that with a baseline).

    .venv/bin/python -m bench.apiserver.cpu [--requests 500] [--rounds 3] [--watchers 1,10,100]
                                            [--baseline CHECKOUT] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from bench.apiserver.harness import RawConnection, cpu_seconds, server_process
from tests.controller.kube.objects import tutorial_canary

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "charts" / "flagman" / "crds" / "crd.yaml"
NAMESPACE = "bench"
CANARY = "podinfo"
CANARIES = f"/apis/flagger.app/v1beta1/namespaces/{NAMESPACE}/canaries"
EVENTS = f"/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events"
MERGE = "application/merge-patch+json"
JSON = "application/json"
MODIFIED = b'"type":"MODIFIED"'


def steady_status(iteration: int) -> dict[str, Any]:
    """A Canary's status in Blue/Green analysis, as the controller writes it each tick."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "phase": "Progressing",
        "failedChecks": 0,
        "canaryWeight": 0,
        "iterations": iteration,
        "lastAppliedSpec": "5b9f8d7c6",
        "lastPromotedSpec": "7c4d9b8f5",
        "lastTransitionTime": now,
        "trackedConfigs": {"configmap/podinfo-config-env": "6d4f8c9b7a", "secret/podinfo-secret-env": "8a7b"},
        "conditions": [
            {
                "type": "Promoted",
                "status": "Unknown",
                "reason": "Progressing",
                "message": "New revision detected, progressing canary analysis.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            }
        ],
    }


def event_body(seq: int, rv: str) -> dict[str, Any]:
    """The Event the controller posts each tick (controller/kube/recorder.py's shape)."""
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{CANARY}.{time.time_ns():x}{seq}", "namespace": NAMESPACE},
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
        "reportingController": "flagger",
        "reportingInstance": "flagman-bench",
        "action": "Synced",
        "reason": "Synced",
        "type": "Normal",
        "note": f"Advance {CANARY}.{NAMESPACE} canary iteration {seq}/1000000",
        "regarding": {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": CANARY,
            "namespace": NAMESPACE,
            "uid": "0b0d7a5e-2c1f-4a51-9d3e-4f0e3b6c9a11",
            "resourceVersion": rv,
        },
    }


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


async def expect(connection: RawConnection, method: str, path: str, body: Any, ctype: str, want: int) -> Any:
    status, answer = await connection.exchange(method, path, dumps(body) if body is not None else b"", ctype)
    if status != want:
        raise SystemExit(f"{method} {path}: HTTP {status}: {answer[:400]!r}")
    return json.loads(answer) if answer else None


class Client:
    """The controller's side of a tick, on one keep-alive connection; remembers the Canary's last answer."""

    def __init__(self, connection: RawConnection) -> None:
        self.connection = connection
        self.canary: dict[str, Any] = {}
        self.seq = 0

    async def setup(self) -> None:
        for document in yaml.safe_load_all(CRD_FILE.read_text()):
            if document:
                await expect(
                    self.connection, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                    document, JSON, 201,
                )  # fmt: skip
        namespace = {"metadata": {"name": NAMESPACE}}
        await expect(self.connection, "POST", "/api/v1/namespaces", namespace, JSON, 201)
        body = tutorial_canary(interval="1s", name=CANARY, target=CANARY, webhooks=[])
        body["metadata"]["namespace"] = NAMESPACE
        await expect(self.connection, "POST", CANARIES, body, JSON, 201)
        self.canary = await expect(
            self.connection, "PUT", f"{CANARIES}/{CANARY}/status",
            {**body, "metadata": {"name": CANARY, "namespace": NAMESPACE}, "status": steady_status(0)},
            JSON, 200,
        )  # fmt: skip

    async def status_put(self) -> None:
        self.seq += 1
        body = {**self.canary, "status": steady_status(self.seq)}
        self.canary = await expect(self.connection, "PUT", f"{CANARIES}/{CANARY}/status", body, JSON, 200)

    async def status_patch(self) -> None:
        self.seq += 1
        patch = {
            "metadata": {"resourceVersion": self.canary["metadata"]["resourceVersion"]},
            "status": {"iterations": self.seq, "lastTransitionTime": steady_status(0)["lastTransitionTime"]},
        }
        self.canary = await expect(self.connection, "PATCH", f"{CANARIES}/{CANARY}/status", patch, MERGE, 200)

    async def event_post(self) -> None:
        self.seq += 1
        body = event_body(self.seq, self.canary["metadata"]["resourceVersion"])
        await expect(self.connection, "POST", EVENTS, body, JSON, 201)


class Watch:
    """One raw watch of the namespace's Canaries that only counts the MODIFIED events it receives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.modified = 0
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, base: str, rv: str) -> Watch:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        query = f"watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=600"
        writer.write(f"GET {CANARIES}?{query} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")  # headers: the server has opened the watch
        watch = cls(reader, writer)
        watch.task = asyncio.create_task(watch.drain())
        return watch

    async def drain(self) -> None:
        tail = b""
        while data := await self.reader.read(65536):
            data = tail + data
            self.modified += data.count(MODIFIED)
            tail = data[-len(MODIFIED) + 1 :]
            self.changed.set()

    async def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while self.modified < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


@dataclass
class Figure:
    server: str  # "this tree" or the baseline's path
    scenario: str
    watches: int
    cpu_ms_per_request: float
    rounds: list[float]
    requests_per_round: int
    load_average: float


async def measure(pid: int, requests: int, step: Callable[[], Awaitable[None]]) -> float:
    """Server CPU ms per request over `requests` sequential calls of `step`."""
    before = cpu_seconds(pid)
    for _ in range(requests):
        await step()
    return (cpu_seconds(pid) - before) * 1000 / requests


async def fanout(base: str, pid: int, client: Client, watchers: int, requests: int) -> float:
    """CPU ms per status patch with `watchers` open watches, counted until every watch has every event."""
    watches = [await Watch.open(base, client.canary["metadata"]["resourceVersion"]) for _ in range(watchers)]
    try:
        await asyncio.sleep(0.1)
        before = cpu_seconds(pid)
        for _ in range(requests):
            await client.status_patch()
        for watch in watches:
            await watch.wait_for(requests)
        return (cpu_seconds(pid) - before) * 1000 / requests
    finally:
        for watch in watches:
            watch.close()


@dataclass
class Server:
    name: str
    base: str
    pid: int
    client: Client


async def start(stack: contextlib.ExitStack, name: str, source: pathlib.Path | None) -> Server:
    base, pid = stack.enter_context(server_process(source))
    connection = await RawConnection.open(base)
    stack.callback(connection.close)
    client = Client(connection)
    await client.setup()
    idle_before = cpu_seconds(pid)
    await asyncio.sleep(1.0)
    idle = cpu_seconds(pid) - idle_before
    if idle > 0.02:
        print(f"warning: the idle server ({name}) used {idle * 1000:.0f} ms CPU in 1 s", file=sys.stderr)
    for _ in range(2):  # warm-up: first-call costs (imports, caches) are not per request
        for step in (client.status_put, client.status_patch, client.event_post):
            await step()
    return Server(name, base, pid, client)


SCENARIOS = (
    ("status PUT (/status, whole Canary)", "status_put"),
    ("status merge PATCH (/status, resourceVersion precondition)", "status_patch"),
    ("event POST (events.k8s.io/v1)", "event_post"),
)


async def one(server: Server, scenario: tuple[str, int], requests: int) -> float:
    name, watches = scenario
    if watches:
        return await fanout(server.base, server.pid, server.client, watches, requests)
    step = dict(SCENARIOS)[name]
    return await measure(server.pid, requests, getattr(server.client, step))


async def run(args: argparse.Namespace) -> list[Figure]:
    samples: dict[tuple[str, tuple[str, int]], list[float]] = {}
    loads: list[float] = []
    scenarios = [(name, 0) for name, _ in SCENARIOS]
    scenarios += [(f"status merge PATCH + fan-out to {count} watches", count) for count in args.watchers]
    with contextlib.ExitStack() as stack:
        servers = [await start(stack, "this tree", None)]
        if args.baseline is not None:
            servers.append(await start(stack, str(args.baseline), args.baseline))
        for round_number in range(args.rounds):
            for scenario in scenarios:
                # Alternate which server goes first, so drifting load hits both alike.
                order = servers if round_number % 2 == 0 else servers[::-1]
                for server in order:
                    loads.append(os.getloadavg()[0])
                    value = await one(server, scenario, args.requests)
                    samples.setdefault((server.name, scenario), []).append(value)
                    progress = f"round {round_number + 1}/{args.rounds}: {server.name}: {scenario[0]}"
                    print(f"{progress}: {value:.3f} ms", file=sys.stderr)
    load = statistics.median(loads)
    return [
        Figure(server, name, watches, statistics.median(values), values, args.requests, load)
        for (server, (name, watches)), values in samples.items()
    ]


def table(figures: list[Figure]) -> list[str]:
    """Markdown rows: one per scenario, a column per server, µs per delivery for the fan-out rows."""
    servers = list(dict.fromkeys(f.server for f in figures))
    by_key = {(f.server, f.scenario): f for f in figures}
    lines = [
        "| scenario | "
        + " | ".join(f"CPU ms / request, median: {s}" for s in servers)
        + " | rounds | load avg |",
        "|---|" + "---:|" * len(servers) + "---|---:|",
    ]
    for scenario in dict.fromkeys(f.scenario for f in figures):
        cells, rounds = [], []
        for server in servers:
            figure = by_key[(server, scenario)]
            cell = f"{figure.cpu_ms_per_request:.3f} (min {min(figure.rounds):.3f})"
            if figure.watches:
                plain = by_key[(server, SCENARIOS[1][0])].cpu_ms_per_request
                per_delivery = (figure.cpu_ms_per_request - plain) * 1000 / figure.watches
                cell += f" ({per_delivery:.0f} µs / delivery)"
            cells.append(cell)
            rounds.append("/".join(f"{value:.2f}" for value in figure.rounds))
        load = figures[0].load_average
        lines.append(f"| {scenario} | " + " | ".join(cells) + f" | {'; '.join(rounds)} | {load:.1f} |")
    return lines


def watch_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part]
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError("every watch count must be at least 1")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.apiserver.cpu", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=500, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the median is reported)")
    parser.add_argument(
        "--watchers", type=watch_counts, default=[1, 10, 100], help="comma-separated watch counts (fan-out)"
    )
    parser.add_argument(
        "--baseline",
        type=pathlib.Path,
        help="another checkout (e.g. `git worktree add /tmp/base main`) measured in the same rounds",
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    if args.baseline is not None and not (args.baseline / "sandbox" / "apiserver").is_dir():
        parser.error(f"--baseline {args.baseline}: not a checkout of this repository (no sandbox/apiserver)")
    figures = asyncio.run(run(args))
    print(f"\nsandbox API server CPU per request, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print("\n".join(table(figures)))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
