"""`cmd` tasks with the real `hey` against a loopback HTTP server started by the test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from loadtester.app import RUNNER
from tests.loadtester.conftest import LoadTester


class TargetServer:
    def __init__(self) -> None:
        self.hits = 0
        self.url = ""


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    server = TargetServer()

    async def hello(request: web.Request) -> web.Response:
        server.hits += 1
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/"
    yield server
    await runner.cleanup()


async def _wait_idle(tester: LoadTester, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    runner = tester.app[RUNNER]
    while runner.snapshot()["running"] or runner.snapshot()["pending"]:
        assert time.monotonic() < deadline, "hey did not finish"
        await asyncio.sleep(0.05)


async def test_hey_runs_once_per_key_and_again_after_it_ends(
    loadtester: LoadTester, target: TargetServer
) -> None:
    command = f"hey -z 1s -c 2 -q 20 {target.url}"
    reply = await loadtester.task(cmd=command)
    assert (reply.status, reply.body) == (202, b"")
    await asyncio.sleep(0.4)
    assert target.hits > 0, "the target server got no requests from hey"
    duplicate = await loadtester.task(type="cmd", cmd=command)
    assert duplicate.status == 202
    await _wait_idle(loadtester)
    runner = loadtester.app[RUNNER]
    assert runner.started_count == 1, "a second hey was started while the first ran"
    first_run_hits = target.hits
    assert first_run_hits >= 20

    await loadtester.task(cmd=command)
    await asyncio.sleep(0.2)
    assert runner.started_count == 2
    await _wait_idle(loadtester)
    assert target.hits > first_run_hits
    result = runner.snapshot()["results"][f"cmd:podinfo.test:{command}"]
    assert result["ok"] is True and "Summary:" in result["output_tail"]


async def test_hey_with_a_request_count(loadtester: LoadTester, target: TargetServer) -> None:
    await loadtester.task(cmd=f"hey -n 20 -c 2 {target.url}", logCmdOutput="true")
    await asyncio.sleep(0.1)
    await _wait_idle(loadtester)
    assert target.hits == 20


async def test_failing_cmd_still_answers_202(loadtester: LoadTester) -> None:
    reply = await loadtester.task(cmd="exit 7")
    assert (reply.status, reply.body) == (202, b"")
    await asyncio.sleep(0.1)
    await _wait_idle(loadtester)
    result = loadtester.app[RUNNER].snapshot()["results"]["cmd:podinfo.test:exit 7"]
    assert (result["ok"], result["exit_code"], result["error"]) == (False, 7, "exit status 7")


async def test_cmd_runs_under_sh(loadtester: LoadTester) -> None:
    await loadtester.task(cmd="echo $0")
    await asyncio.sleep(0.1)
    await _wait_idle(loadtester)
    assert loadtester.app[RUNNER].snapshot()["results"]["cmd:podinfo.test:echo $0"]["output_tail"] == "sh\n"
