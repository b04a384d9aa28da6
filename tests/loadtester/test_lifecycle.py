"""The app's lifecycle: what starts with it, what stops when shutdown begins, what its cleanup releases."""

from __future__ import annotations

import asyncio
import pathlib
import threading

import aiohttp
from aiohttp import web

from loadtester.app import create_app
from loadtester.gates import InMemoryGateStore
from loadtester.half_close import LoadTesterRunner
from loadtester.settings import Settings


class _RecordingGateStore(InMemoryGateStore):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


async def _serve(app: web.Application, grace: float) -> tuple[LoadTesterRunner, str]:
    runner = LoadTesterRunner(app, shutdown_timeout=grace)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/"


async def test_pending_tasks_never_start_once_shutdown_begins(tmp_path: pathlib.Path) -> None:
    """Flagger's runner stops scheduling at the signal, before in-flight requests get their grace."""
    marker = tmp_path / "started"
    runner, url = await _serve(create_app(Settings(runner_tick=0.3)), grace=2.0)
    async with aiohttp.ClientSession() as session:
        for command in ("true", f"touch {marker}"):  # the first starts at once, the second waits a tick
            async with session.post(url, json={"metadata": {"cmd": command}}) as reply:
                assert reply.status == 202
        in_flight = asyncio.create_task(
            session.post(url, json={"metadata": {"type": "bash", "cmd": "sleep 0.8"}})
        )
        await asyncio.sleep(0.1)
        await runner.cleanup()  # waits for the in-flight request: longer than the runner's tick
        async with await in_flight as reply:
            assert reply.status == 200
    assert not marker.exists()


async def test_cleanup_closes_the_gate_store_and_releases_the_spawn_threads() -> None:
    gates = _RecordingGateStore()
    runner, url = await _serve(create_app(Settings(), gates=gates), grace=1.0)
    async with aiohttp.ClientSession() as session:
        replies = await asyncio.gather(
            *(
                session.post(url, json={"name": f"c{n}", "metadata": {"type": "bash", "cmd": "sleep 0.2"}})
                for n in range(3)
            )
        )
        assert [reply.status for reply in replies] == [200, 200, 200]
        for reply in replies:
            reply.release()
    assert any(thread.name.startswith("loadtester-spawn") for thread in threading.enumerate())
    await runner.cleanup()
    assert gates.closed == 1
    assert not any(thread.name.startswith("loadtester-spawn") for thread in threading.enumerate())
