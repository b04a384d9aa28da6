"""task_ngrinder_test.go ported (with the pollInterval bug fixed), against a loopback nGrinder stand-in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from loadtester.payload import Payload
from loadtester.process import Spawner
from loadtester.tasks import FACTORIES, TaskContext, TaskRequestError
from loadtester.tasks.ngrinder import NGrinderTask, new_ngrinder_task
from tests.loadtester.conftest import LoadTester
from tests.loadtester.recorder import RecordingServer


@pytest.fixture
async def ngrinder() -> AsyncIterator[RecordingServer]:
    server = RecordingServer()
    await server.start()
    yield server
    await server.stop()


def _metadata(server: str, **extra: str) -> dict[str, str]:
    return {
        "type": "ngrinder",
        "server": server,
        "clone": "960",
        "username": "admin",
        "passwd": "YWRtaW4=",
        **extra,
    }


def _task(metadata: dict[str, str]) -> NGrinderTask:
    return new_ngrinder_task(Payload(name="podinfo", namespace="test", metadata=metadata), metadata)


async def test_task_ngrinder(ngrinder: RecordingServer) -> None:
    """TestTaskNGrinder: factory registered; clone_and_start, status FINISHED, stop answered."""
    assert FACTORIES["ngrinder"] is new_ngrinder_task
    ngrinder.on("POST", "/perftest/api/960/clone_and_start", lambda request: {"status": "READY", "id": 961})
    ngrinder.on("GET", "/perftest/api/961/status", lambda request: {"status": [{"status_id": "FINISHED"}]})
    ngrinder.on("PUT", "/perftest/api/961", lambda request: {"success": True})
    task = _task(_metadata(ngrinder.url + "/", pollInterval="100ms"))
    assert task.poll_interval == 0.1  # Flagger: 100ms x 1s, i.e. weeks
    context = TaskContext(timeout=3, spawner=Spawner(), logger=logging.getLogger("test"))
    try:
        result = await task.run(context)
    finally:
        await context.close()
    assert result.ok, result.error
    start, status = ngrinder.requests
    assert (start.method, start.path) == ("POST", "/perftest/api/960/clone_and_start")
    assert start.headers["Authorization"] == "Basic YWRtaW46YWRtaW4="
    assert (status.method, status.path) == ("GET", "/perftest/api/961/status")


async def test_deadline_stops_the_test(ngrinder: RecordingServer) -> None:
    ngrinder.on("POST", "/perftest/api/960/clone_and_start", lambda request: {"id": 961})
    ngrinder.on("GET", "/perftest/api/961/status", lambda request: {"status": [{"status_id": "TESTING"}]})
    ngrinder.on("PUT", "/perftest/api/961", lambda request: {"success": True})
    context = TaskContext(timeout=0.5, spawner=Spawner(), logger=logging.getLogger("test"))
    try:
        result = await _task(_metadata(ngrinder.url, pollInterval="50ms")).run(context)
    finally:
        await context.close()
    assert not result.ok
    stop = ngrinder.requests[-1]
    assert (stop.method, stop.path, stop.query) == ("PUT", "/perftest/api/961", "action=stop")


@pytest.mark.parametrize("status", ["STOP_BY_ERROR", "CANCELED", "UNKNOWN"])
async def test_failed_statuses(ngrinder: RecordingServer, status: str) -> None:
    ngrinder.on("POST", "/perftest/api/960/clone_and_start", lambda request: {"id": 5})
    ngrinder.on("GET", "/perftest/api/5/status", lambda request: {"status": [{"status_id": status}]})
    context = TaskContext(timeout=3, spawner=Spawner(), logger=logging.getLogger("test"))
    try:
        result = await _task(_metadata(ngrinder.url, pollInterval="10ms")).run(context)
    finally:
        await context.close()
    assert (result.ok, result.error) == (False, f"ngrinder test 5 ended with status {status}")


async def test_missing_test_id_fails_instead_of_crashing(ngrinder: RecordingServer) -> None:
    ngrinder.on("POST", "/perftest/api/960/clone_and_start", lambda request: {"status": "READY"})
    context = TaskContext(timeout=3, spawner=Spawner(), logger=logging.getLogger("test"))
    try:
        result = await _task(_metadata(ngrinder.url)).run(context)
    finally:
        await context.close()
    assert not result.ok and "no test id" in result.error


def test_relative_urls_keep_a_trailing_slash_path() -> None:
    assert (
        _task(_metadata("http://h/ngrinder/")).url("perftest/api/1/status")
        == "http://h/ngrinder/perftest/api/1/status"
    )
    assert (
        _task(_metadata("http://h/ngrinder")).url("perftest/api/1/status") == "http://h/perftest/api/1/status"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server": ""}, "server, clone, username and passwd are required metadata"),
        ({"passwd": ""}, "server, clone, username and passwd are required metadata"),
        ({"clone": "abc"}, "metadata clone must be integer: "),
        ({"passwd": "not base64!"}, "metadata password is invalid: "),
    ],
)
async def test_validation_is_400_over_http(
    loadtester: LoadTester, change: dict[str, str], message: str
) -> None:
    reply = await loadtester.post("/", {"metadata": {**_metadata("http://127.0.0.1:1"), **change}})
    assert reply.status == 400 and reply.text.startswith(message)


def test_invalid_poll_interval_means_one_second() -> None:
    assert _task(_metadata("http://h", pollInterval="soon")).poll_interval == 1.0
    with pytest.raises(TaskRequestError):
        _task(_metadata("http://h", clone="1.5"))


async def test_ngrinder_over_http_is_queued(loadtester: LoadTester, ngrinder: RecordingServer) -> None:
    ngrinder.on("POST", "/perftest/api/960/clone_and_start", lambda request: {"id": 7})
    ngrinder.on("GET", "/perftest/api/7/status", lambda request: {"status": [{"status_id": "FINISHED"}]})
    reply = await loadtester.post("/", {"metadata": _metadata(ngrinder.url, pollInterval="10ms")})
    assert (reply.status, reply.body) == (202, b"")
    for _ in range(100):
        if len(ngrinder.requests) >= 2:
            break
        await asyncio.sleep(0.02)
    assert [r.path for r in ngrinder.requests[:2]] == [
        "/perftest/api/960/clone_and_start",
        "/perftest/api/7/status",
    ]
