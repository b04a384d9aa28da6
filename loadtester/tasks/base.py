"""What every task type shares: its identity (for de-duplication and /tasks), how it runs, its result."""

from __future__ import annotations

import abc
import dataclasses
import logging
from typing import Literal

import aiohttp

from loadtester.errors import LoadtesterError
from loadtester.process import Spawner

Mode = Literal["queued", "blocking"]


class TaskRequestError(LoadtesterError):
    """The payload cannot become a task; `status` and `message` are the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True)
class TaskResult:
    ok: bool
    output: bytes = b""
    error: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    timed_out: bool = False

    @property
    def outcome(self) -> str:
        """The metrics label: success, failure or timeout."""
        if self.ok:
            return "success"
        return "timeout" if self.timed_out else "failure"


@dataclasses.dataclass
class TaskContext:
    """What a running task may use: the deadline, the app's command spawner, an HTTP session."""

    timeout: float
    spawner: Spawner
    logger: logging.Logger
    _session: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Task(abc.ABC):
    """One accepted webhook payload, ready to run; each kind adds the fields its work needs."""

    type: str  # the payload's metadata.type (cmd, bash, helm, ...)
    mode: Mode
    name: str  # canary name
    namespace: str
    command: str  # metadata.cmd, or a description for HTTP-driven types
    log_output: bool = False

    @property
    def canary(self) -> str:
        return f"{self.name}.{self.namespace}"

    @property
    def key(self) -> str:
        """De-duplication key: one run at a time per canary, type and command."""
        return f"{self.type}:{self.canary}:{self.command}"

    @abc.abstractmethod
    async def run(self, context: TaskContext) -> TaskResult:
        """Run to completion or to `context.timeout`; never raise for a failing command."""

    def failure_body(self, result: TaskResult) -> bytes:
        """The 500 body of a failed blocking task: Flagger's `command <cmd> failed: <output>: <err>`."""
        return (
            b"command " + self.command.encode() + b" failed: " + result.output + b": " + result.error.encode()
        )

    def __str__(self) -> str:
        return f"{self.type} {self.command!r} for {self.canary}"
