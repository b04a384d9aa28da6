"""`python -m bench.loadtester`: measure the load tester as a real process on loopback.

1. Floor: `subprocess.run(["bash", "-c", "true"])` straight from Python (sequential, and 8 threads).
2. Blocking `bash` task running `true`: requests/s and p50/p99 latency at concurrency 1, 8 and 32.
   Each concurrent worker uses its own canary name, so no request attaches to another one's run
   (identical concurrent requests would share one run and flatter the numbers). Floor and load
   tester are measured in alternating rounds, so drifting load on the shared machine hits both.
3. `/gate/check` with `hey` (an open gate, so every answer is 200 Approved).
4. Resident memory of the idle load tester process, and after many chatty blocking tasks (1 MiB of
   output each, each its own canary): finished tasks keep only the 4 KiB tail /tasks shows.

Every phase is bounded by a request count. Prints one results table (markdown).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.77"
REPO = pathlib.Path(__file__).resolve().parents[2]


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


class Row:
    def __init__(
        self, what: str, concurrency: int, requests: int, seconds: float, latencies: list[float]
    ) -> None:
        self.what = what
        self.concurrency = concurrency
        self.rate = requests / seconds
        self.p50_ms = _percentile(latencies, 0.50) * 1000 if latencies else float("nan")
        self.p99_ms = _percentile(latencies, 0.99) * 1000 if latencies else float("nan")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _start_loadtester(port: int, log_level: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtester", f"-port={port}", f"-host={HOST}", f"-log-level={log_level}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the load tester did not start")


def _rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _floor_chunk(requests: int, concurrency: int) -> tuple[list[float], float]:
    """`requests` spawns of `bash -c true` from `concurrency` threads: (latencies, elapsed seconds)."""

    def spawn_once(_: int) -> float:
        started = time.perf_counter()
        subprocess.run(["bash", "-c", "true"], check=True)
        return time.perf_counter() - started

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(spawn_once, range(requests)))
    return latencies, time.perf_counter() - started


def _hey_csv(args: list[str]) -> list[tuple[float, float, str]]:
    """Run hey with `-o csv`; return (latency s, offset s, status) per request."""
    output = subprocess.run(["hey", "-o", "csv", *args], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in output.splitlines()[1:]:
        fields = line.split(",")
        if len(fields) >= 8:
            rows.append((float(fields[0]), float(fields[7]), fields[6]))
    return rows


def _run_parallel_hey(commands: list[list[str]]) -> list[tuple[float, float, str]]:
    with concurrent.futures.ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(_hey_csv, commands))
    return [row for result in results for row in result]


def _bash_chunk(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    """One `hey -c 1` per worker, each with its own canary name: concurrent requests are all distinct, so
    none attaches to another's run, and the client is Go (it costs the 2 cores little)."""
    per_worker = max(1, requests // concurrency)
    commands = []
    for number in range(concurrency):
        body = json.dumps(
            {"name": f"bench-{number}", "namespace": "bench", "metadata": {"type": "bash", "cmd": "true"}}
        )
        commands.append(["-n", str(per_worker), "-c", "1", "-m", "POST", "-d", body, url + "/"])
    samples = _run_parallel_hey(commands)
    statuses = {status for _, _, status in samples}
    if statuses != {"200"}:
        raise SystemExit(f"blocking bash answered {statuses}")
    return [latency for latency, _, _ in samples], max(offset + latency for latency, offset, _ in samples)


def spawn_rows(url: str, requests: int, rounds: int) -> tuple[list[Row], list[Row]]:
    """Floor and load tester, measured in alternating rounds so that drifting machine load (the machine
    is shared) hits both alike. Returns (floor rows, load tester rows)."""
    floor_rows, tester_rows = [], []
    for concurrency in (1, 8, 32):
        measured: dict[str, tuple[list[float], float]] = {"floor": ([], 0.0), "tester": ([], 0.0)}
        for _ in range(rounds):
            chunks = {"tester": _bash_chunk(url, requests // rounds, concurrency)}
            if concurrency < 32:
                chunks["floor"] = _floor_chunk(requests // rounds, concurrency)
            for name, (latencies, seconds) in chunks.items():
                measured[name] = (measured[name][0] + latencies, measured[name][1] + seconds)
        latencies, seconds = measured["tester"]
        tester_rows.append(
            Row("load tester: blocking bash `true`", concurrency, len(latencies), seconds, latencies)
        )
        if concurrency < 32:
            latencies, seconds = measured["floor"]
            floor_rows.append(
                Row("floor: subprocess.run bash -c true", concurrency, len(latencies), seconds, latencies)
            )
    return floor_rows, tester_rows


def gate_row(url: str, requests: int, concurrency: int) -> Row:
    body = '{"name": "bench", "namespace": "bench"}'
    subprocess.run(["curl", "-sf", "-d", body, url + "/gate/open"], check=True)
    output = subprocess.run(
        [
            "hey",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-d",
            body,
            "-o",
            "csv",
            url + "/gate/check",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [line.split(",") for line in output.splitlines()[1:] if line]
    latencies = [float(fields[0]) for fields in lines]
    codes = {fields[6] for fields in lines}
    if codes != {"200"}:
        raise SystemExit(f"/gate/check answered {codes}")
    offsets = [float(fields[7]) for fields in lines]
    seconds = max(offset + latency for offset, latency in zip(offsets, latencies, strict=True))
    return Row("load tester: /gate/check (hey)", concurrency, len(latencies), seconds, latencies)


CHATTY_COMMAND = "head -c 1048576 /dev/zero | tr '\\0' x"


def chatty_memory(url: str, pid: int, tasks: int) -> float:
    """Resident memory (MiB) after `tasks` blocking tasks of 1 MiB output each, 4 at a time."""

    def one(number: int) -> None:
        body = {
            "name": f"chatty-{number}",
            "namespace": "bench",
            "metadata": {"type": "bash", "cmd": CHATTY_COMMAND},
        }
        request = urllib.request.Request(url + "/", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.status != 200:
                raise SystemExit(f"chatty task answered {response.status}")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(tasks)))
    return _rss_mib(pid)


def _table(rows: list[Row], memory: float, log_level: str, chatty: tuple[int, float]) -> str:
    lines = [
        f"| benchmark (log level {log_level}) | concurrency | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.what} | {row.concurrency} | {row.rate:,.0f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} |"
        )
    lines.append(f"| idle resident memory of the load tester | | | {memory:.1f} MiB | |")
    tasks, chatty_memory = chatty
    lines.append(
        f"| resident memory after {tasks} chatty tasks (1 MiB output each) | | | {chatty_memory:.1f} MiB | |"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtester")
    parser.add_argument("--requests", type=int, default=1600, help="bash requests per concurrency level")
    parser.add_argument("--rounds", type=int, default=4, help="alternating floor/load tester rounds")
    parser.add_argument("--gate-requests", type=int, default=20000)
    parser.add_argument("--log-level", default="info", help="the load tester's -log-level (chart: info)")
    parser.add_argument("--chatty-tasks", type=int, default=300, help="tasks of 1 MiB output each")
    parser.add_argument("--memory-only", action="store_true", help="only the two memory figures (no hey)")
    args = parser.parse_args(argv)

    port = _free_port()
    process = _start_loadtester(port, args.log_level)
    url = f"http://{HOST}:{port}"
    try:
        time.sleep(1.0)
        idle_memory = _rss_mib(process.pid)
        if not args.memory_only:
            floor, tester = spawn_rows(url, args.requests, args.rounds)
            gate = gate_row(url, args.gate_requests, 32)
        chatty = (args.chatty_tasks, chatty_memory(url, process.pid, args.chatty_tasks))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    if args.memory_only:
        print(
            f"idle resident memory: {idle_memory:.1f} MiB; "
            f"after {chatty[0]} chatty tasks: {chatty[1]:.1f} MiB"
        )
        return 0
    rows = [*floor, *tester, gate]
    print(_table(rows, idle_memory, args.log_level, chatty))
    overhead = tester[0].p50_ms / floor[0].p50_ms
    print()
    print(f"p50 overhead over the floor at concurrency 1: {overhead:.2f}x (target <= 1.5x)")
    print(f"blocking bash at concurrency 8: {tester[1].rate:,.0f} requests/s (target >= 200)")
    print(f"/gate/check: {gate.rate:,.0f} requests/s (target >= 3,000)")
    print(f"idle resident memory: {idle_memory:.1f} MiB (target <= 60)")
    print(
        f"after {chatty[0]} chatty tasks: {chatty[1]:.1f} MiB (target <= 100: a finished task keeps ~8 KiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
