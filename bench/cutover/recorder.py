"""A recording client: HTTP requests through a Service, the podinfo version of every response recorded.

Each request opens a new connection (as most clients behind a ClusterIP do eventually, and as kube-proxy
balances: per connection), so every request is routed by the Service's endpoints of that moment. A few
workers send back to back; each sample keeps when its request started and ended, so the analysis can
say whether a request that started after a client had seen the new version still got the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp

ERROR = "error"
REPO = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Sample:
    started: float  # time.monotonic()
    ended: float
    version: str  # podinfo's /version, or ERROR


class Recorder(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> list[Sample]: ...


@dataclass
class VersionRecorder:
    """``workers`` clients sending ``GET {url}`` back to back until stopped."""

    url: str
    workers: int = 4
    timeout: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # force_close: a new connection per request (no keep-alive pinning a client to one pod).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> list[Sample]:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
        return sorted(self.samples, key=lambda sample: sample.started)

    async def _worker(self) -> None:
        assert self._session is not None
        while True:
            started = time.monotonic()
            try:
                async with self._session.get(self.url) as response:
                    body = await response.json(content_type=None)
                    version = str(body.get("version", ERROR)) if response.status == 200 else ERROR
            except (aiohttp.ClientError, TimeoutError, ValueError):
                version = ERROR
                await asyncio.sleep(0.01)  # a refused connection returns at once: do not spin
            self.samples.append(Sample(started, time.monotonic(), version))


@dataclass(frozen=True)
class Cutover:
    """What the samples of one cut-over show."""

    requests: int
    errors: int
    versions: tuple[str, ...]  # the distinct versions in the order first seen
    changes: int  # version changes between consecutive requests, in start order
    stale: int  # old-version responses to requests started after a client had received the new one
    first_new: float | None  # when the first new-version response ended (monotonic)
    all_moved: float | None  # start of the final run of new-version-only responses (monotonic)

    @property
    def mixed(self) -> bool:
        return self.stale > 0


def analyse(samples: Sequence[Sample], new: str) -> Cutover:
    """Pure: the cut-over to version ``new`` as the samples (sorted by start) show it."""
    answered = [sample for sample in samples if sample.version != ERROR]
    versions: list[str] = []
    for sample in answered:
        if sample.version not in versions:
            versions.append(sample.version)
    changes = sum(1 for before, after in itertools.pairwise(answered) if before.version != after.version)
    news = [sample.ended for sample in answered if sample.version == new]
    first_new = min(news) if news else None
    stale = (
        sum(1 for sample in answered if sample.started > first_new and sample.version != new)
        if first_new is not None
        else 0
    )
    all_moved = None
    for sample in reversed(answered):
        if sample.version != new:
            break
        all_moved = sample.started
    return Cutover(
        requests=len(samples),
        errors=len(samples) - len(answered),
        versions=tuple(versions),
        changes=changes,
        stale=stale,
        first_new=first_new,
        all_moved=all_moved,
    )


@dataclass
class ProcessRecorder:
    """:class:`VersionRecorder` in a child process started by ``prefix`` (e.g. ``nsenter --net=...``)."""

    url: str
    prefix: Sequence[str]
    _process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.prefix,
            sys.executable,
            "-m",
            "bench.cutover.record",
            self.url,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 30)
        if line.strip() != b"recording":
            raise RuntimeError(f"the recording client did not start: {line!r}")

    async def stop(self) -> list[Sample]:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(self._process.communicate(), 30)
        rows = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        return [Sample(float(started), float(ended), str(version)) for started, ended, version in rows]
