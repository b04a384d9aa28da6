"""Fixtures: the load tester served in-process on a loopback port, and a client that speaks to it."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from loadtester.app import create_app
from loadtester.half_close import LoadTesterRunner
from loadtester.settings import Settings

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes
    headers: Any

    @property
    def text(self) -> str:
        return self.body.decode()


class LoadTester:
    """A running load tester and a small client for it."""

    def __init__(self, app: web.Application, base_url: str, session: aiohttp.ClientSession) -> None:
        self.app = app
        self.base_url = base_url
        self.session = session

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if json_body is not None:
            import json

            data = json.dumps(json_body)
        async with self.session.request(
            method, self.base_url + path, data=data, headers=headers, allow_redirects=False
        ) as response:
            return Reply(response.status, await response.read(), response.headers)

    async def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, json_body=json_body, **kwargs)

    async def task(self, **metadata: str) -> Reply:
        """POST a webhook payload for canary podinfo.test with this metadata."""
        return await self.post("/", {"name": "podinfo", "namespace": "test", "metadata": metadata})


StartLoadTester = Callable[..., Awaitable[LoadTester]]


@pytest.fixture
async def start_loadtester() -> AsyncIterator[StartLoadTester]:
    """Start load testers with the given settings (keyword overrides of `Settings`) on 127.0.0.1."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**overrides: Any) -> LoadTester:
        overrides.setdefault("runner_tick", 0.01)
        app = create_app(Settings(**overrides))
        runner = LoadTesterRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        session = aiohttp.ClientSession()
        sessions.append(session)
        return LoadTester(app, f"http://127.0.0.1:{port}", session)

    yield start
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def loadtester(start_loadtester: StartLoadTester) -> LoadTester:
    return await start_loadtester()


@pytest.fixture
def tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the project's helm (in .tools/bin) first on PATH for the commands the load tester runs."""
    monkeypatch.setenv("PATH", f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}")


async def eventually(predicate: Callable[[], object], seconds: float = 5.0) -> bool:
    """Poll `predicate` until it is truthy or `seconds` pass (for state with no event: /proc, files)."""
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture(autouse=True)
def _restore_loadtester_logger() -> Any:
    """Tests that call logs.configure() must not leave their handler behind for the next test."""
    import logging

    target = logging.getLogger("loadtester")
    handlers, level, propagate = list(target.handlers), target.level, target.propagate
    yield
    target.handlers[:] = handlers
    target.setLevel(level)
    target.propagate = propagate
