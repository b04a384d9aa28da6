"""Harness of the controller integration tests and of `bench.controller`: loopback stand-ins and processes.

Everything listens on loopback. The sandbox has no Deployment controller, so `RolloutSimulator` plays
one: it watches Deployments and writes their status through the status subresource (ready right away,
or stuck with ProgressDeadlineExceeded for the Deployments a test names).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from controller.kube.api import DEPLOYMENTS, KubeApi
from controller.kube.watchcache import WatchCache

REPO = pathlib.Path(__file__).resolve().parents[3]

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Prometheus stub --------------------------------------------------------------------------------------


@dataclass
class PrometheusStub:
    """Answers `/api/v1/query` the way the test says; also serves `/` as the app `hey` loads."""

    success_rate: float = 100.0
    duration_seconds: float = 0.25
    custom: dict[str, list[float]] = field(default_factory=dict)
    """substring of a query -> values returned in turn (the last one repeats)."""
    queries: list[str] = field(default_factory=list)
    hits: int = 0
    url: str = ""

    def answer(self, query: str) -> float | None:
        if query.strip() == "vector(1)":
            return 1.0
        for needle, values in self.custom.items():
            if needle in query:
                return values.pop(0) if len(values) > 1 else values[0]
        if "histogram_quantile" in query:
            return self.duration_seconds
        if 'status!~"5.*"' in query:
            return self.success_rate
        return None

    async def query(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        self.queries.append(query)
        value = self.answer(query)
        result = (
            []
            if value is None or math.isnan(value)
            else [{"metric": {}, "value": [time.time(), repr(value)]}]
        )
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": result}})

    async def app_root(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(text="podinfo stand-in")

    async def token(self, request: web.Request) -> web.Response:
        """podinfo's `POST /token`, which the tutorial's smoke test greps."""
        return web.json_response({"token": "eyJhbGciOi", "expires_at": "2030-01-01T00:00:00Z"})


# --- processes -------------------------------------------------------------------------------------------


@dataclass
class Process:
    args: list[str]
    log_path: pathlib.Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO, start_new_session=True
        )
        log.close()
        return self

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)

    def stop(self) -> int | None:
        self.kill(signal.SIGTERM)
        return self.popen.returncode if self.popen else None

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLAGMAN_", "KUBECONFIG"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class ControllerProcess:
    """`python -m controller` with Flagger's flags, restartable (scenario 6)."""

    kubeconfig: str
    metrics_server: str
    log_path: pathlib.Path
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: Process | None = None

    def start(self) -> ControllerProcess:
        args = [
            PYTHON,
            "-m",
            "controller",
            f"-kubeconfig={self.kubeconfig}",
            f"-metrics-server={self.metrics_server}",
            f"-port={self.port}",
            "-mesh-provider=kubernetes",
            "--min-analysis-interval=50ms",
            "-control-loop-interval=1s",
            "-log-level=info",
            *self.extra_args,
        ]
        self.process = Process(args, self.log_path, _env()).start()
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill(signal.SIGKILL)

    def stop(self) -> int | None:
        return self.process.stop() if self.process else None

    def log_tail(self, lines: int = 80) -> str:
        return self.process.log_tail(lines) if self.process else ""


# --- the Deployment controller stand-in ------------------------------------------------------------------


class RolloutSimulator:
    """Makes every Deployment's status say "rolled out" (or stuck, for names in `stuck`).

    Names in `slow` roll out for that many seconds after each spec change (generation): meanwhile their
    status says "0 of N updated replicas available", as a real rollout would.
    """

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.stuck: set[str] = set()
        self.slow: dict[str, float] = {}
        self._ready_at: dict[tuple[str, str, int], float] = {}
        self._pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.cache = WatchCache(api, DEPLOYMENTS, "", watch_timeout_seconds=30, on_change=self._changed)
        self._task: asyncio.Task[None] | None = None

    def _changed(self, event_type: str, obj: dict[str, Any]) -> None:
        if event_type != "DELETED":
            meta = obj["metadata"]
            self._pending.put_nowait((meta["namespace"], meta["name"]))

    async def start(self) -> None:
        await self.cache.start()
        for obj in self.cache.items():
            self._changed("ADDED", obj)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.cache.stop()

    def desired_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        replicas = obj["spec"].get("replicas", 1)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        generation = obj["metadata"].get("generation", 1)
        if name in self.slow and name not in self.stuck:
            key = (obj["metadata"]["namespace"], name, generation)
            if key not in self._ready_at:
                self._ready_at[key] = time.monotonic() + self.slow[name]
                asyncio.get_running_loop().call_later(self.slow[name] + 0.01, self.refresh, name, key[0])
            if time.monotonic() < self._ready_at[key]:
                return {
                    "observedGeneration": generation,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "availableReplicas": 0,
                    "unavailableReplicas": replicas,
                    "conditions": [
                        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                         "lastUpdateTime": now, "lastTransitionTime": now},
                        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                         "lastUpdateTime": now, "lastTransitionTime": now},
                    ],
                }  # fmt: skip
        if name in self.stuck:
            return {
                "observedGeneration": obj["metadata"].get("generation", 1),
                "replicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": 0,
                "unavailableReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                     "lastUpdateTime": now, "lastTransitionTime": now},
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                     "lastUpdateTime": now, "lastTransitionTime": now},
                ],
            }  # fmt: skip
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "lastUpdateTime": now, "lastTransitionTime": now},
            ],
        }  # fmt: skip

    def _up_to_date(self, obj: dict[str, Any], desired: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        keys = ("observedGeneration", "replicas", "updatedReplicas", "availableReplicas")
        same_numbers = all(status.get(key, 0) == desired.get(key, 0) for key in keys)
        reasons = [c.get("reason") for c in status.get("conditions") or []]
        return same_numbers and reasons == [c["reason"] for c in desired["conditions"]]

    async def _run(self) -> None:
        while True:
            namespace, name = await self._pending.get()
            obj = self.cache.get(namespace, name)
            if obj is None:
                continue
            desired = self.desired_status(obj)
            if self._up_to_date(obj, desired):
                continue
            body = {**obj, "status": desired}
            with contextlib.suppress(Exception):  # a conflict: the next watch event retries
                self.cache.remember(
                    await self.api.request("PUT", DEPLOYMENTS.path(namespace, name, "status"), body=body)
                )

    def refresh(self, name: str, namespace: str = "test") -> None:
        self._pending.put_nowait((namespace, name))


async def start_prometheus_stub(stub: PrometheusStub | None = None) -> tuple[PrometheusStub, web.AppRunner]:
    """Serve `stub` (a new `PrometheusStub` by default) on a free loopback port."""
    stub = stub or PrometheusStub()
    app = web.Application()
    app.router.add_get("/api/v1/query", stub.query)
    app.router.add_get("/", stub.app_root)
    app.router.add_post("/token", stub.token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stub.url = f"http://127.0.0.1:{port}"
    return stub, runner


def start_loadtester(log_path: pathlib.Path) -> tuple[Process, str]:
    """The real load tester (`python -m loadtester`) on loopback; returns the process and its URL."""
    port = free_port()
    process = Process(
        [PYTHON, "-m", "loadtester", f"-port={port}", "-host=127.0.0.1", "-log-level=info"], log_path, _env()
    ).start()
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"load tester did not start:\n{process.log_tail()}")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/"
