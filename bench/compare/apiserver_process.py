"""The sandbox API emulator in a child process of its own, with its request log queryable from here.

The comparison drives the cluster (rollout simulator, watches, scenario steps) from this process; giving the
emulator its own process (and GIL) keeps that work from slowing the API server both controllers talk to.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import pathlib
import threading
from types import TracebackType
from typing import Any

from bench.compare.backend import RequestCount
from bench.compare.controllers import FLAGGER_JSON_BINARY
from sandbox.apiserver.testing import ApiServer


def _serve(workdir: str, commands: multiprocessing.connection.Connection) -> None:
    with ApiServer(workdir=workdir, bookmark_interval=60.0) as server:
        commands.send(server.url)
        while True:
            message = commands.recv()
            if message is None:
                break
            verb, args = message
            log = server.request_log
            if verb == "mark":
                commands.send(len(log))
            elif verb == "count":
                start, end, agent_prefixes = args
                records = list(log)[start:end]
                picked = [r for r in records if r.user_agent.startswith(tuple(agent_prefixes))]
                watches = sum(1 for r in picked if r.verb == "watch")
                by_verb = collections.Counter(
                    f"{r.verb or r.method} {r.resource}" for r in picked if r.verb != "watch"
                )
                commands.send(RequestCount(len(picked) - watches, dict(by_verb), watches))
            elif verb == "agents":
                commands.send(sorted({r.user_agent for r in list(log)}))
            else:
                commands.send(ValueError(f"unknown command {verb!r}"))


class ApiServerProcess:
    """`with ApiServerProcess(workdir) as server:` — `.url`, `.kubeconfig`, `.mark()`, `.count(...)`."""

    name = "sandbox API emulator"
    flagger_binary = FLAGGER_JSON_BINARY

    def __init__(self, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.url = ""
        self._lock = threading.Lock()
        context = multiprocessing.get_context("spawn")  # no inherited event loop or threads
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(str(workdir), child), name="apiserver", daemon=True
        )

    @property
    def kubeconfig(self) -> str:
        return str(self.workdir / "kubeconfig")

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    def _ask(self, verb: str, *args: Any) -> Any:
        with self._lock:
            self._conn.send((verb, args))
            answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def mark(self) -> int:
        """The request log's length now: the start or end of a measured window."""
        return int(self._ask("mark"))

    def count(self, start: int, end: int, agent_prefixes: tuple[str, ...]) -> RequestCount:
        """The requests in [start, end) of the log whose user agent starts with one of the prefixes."""
        result: RequestCount = self._ask("count", start, end, agent_prefixes)
        return result

    def user_agents(self) -> list[str]:
        return list(self._ask("agents"))

    def __enter__(self) -> ApiServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the sandbox API server did not start within 60 s")
        self.url = str(self._conn.recv())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self._conn.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
