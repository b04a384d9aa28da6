"""``/history`` on the controller's side server, over real loopback HTTP."""

from __future__ import annotations

import socket

import aiohttp

from controller.api import CanaryRef, Phase
from controller.rollout.history import HistoryBook
from controller.telemetry import ControllerMetrics, Health, TelemetryServer
from tests.controller.kube.test_history_store import _Clock, _status
from tests.controller.rollout.history_fakes import MemoryHistoryStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_history_is_served_as_json() -> None:
    book = HistoryBook(MemoryHistoryStore(), _Clock())
    await book.note_status(CanaryRef("podinfo", "test", uid="u1"), _status(Phase.PROGRESSING))
    port = _free_port()
    server = TelemetryServer(ControllerMetrics(), Health(), host="127.0.0.1", port=port, history=book)
    await server.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get("/history") as response:
                assert await response.json() == {"canaries": [{"namespace": "test", "name": "podinfo"}]}
            async with http.get("/history/test/podinfo") as response:
                document = await response.json()
            assert document["canary"] == {"name": "podinfo", "namespace": "test", "uid": "u1"}
            assert document["runs"][0]["phases"] == [{"phase": "Progressing", "at": "2026-12-02T15:00:00Z"}]
            async with http.get("/history/test/absent") as response:
                assert response.status == 404
                assert "no analysis history for canary absent.test" in await response.text()
    finally:
        await server.stop()


async def test_without_history_there_is_no_route() -> None:
    port = _free_port()
    server = TelemetryServer(ControllerMetrics(), Health(), host="127.0.0.1", port=port)
    await server.start()
    try:
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
            http.get("/history") as response,
        ):
            assert response.status == 404
    finally:
        await server.stop()
