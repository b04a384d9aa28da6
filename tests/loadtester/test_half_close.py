"""A client that sends its request and half-closes (FIN) still gets its answer, as from Go's net/http
(aiohttp alone closes the connection at the FIN: aio-libs/aiohttp#3659). Raw TCP, no HTTP client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from loadtester.app import RUNNER
from tests.loadtester.conftest import LoadTester, eventually


def _post(body: Any, path: str = "/") -> bytes:
    data = json.dumps(body).encode()
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


async def _send_then_half_close(
    loadtester: LoadTester, data: bytes, before_fin: Callable[[], Awaitable[object]] | None = None
) -> bytes:
    """Send `data`, shut down our write side, and read everything until the server closes."""
    host, port = loadtester.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        if before_fin is not None:
            await before_fin()
        writer.write_eof()  # shutdown(SHUT_WR)
        # Reading to the end also proves the server closes after answering (no 75 s keep-alive wait).
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


def _responses(raw: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """Split a byte stream of HTTP/1.1 responses with Content-Length bodies."""
    responses = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")
        headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in header_lines)}
        length = int(headers.get("content-length", "0"))
        responses.append((status_line, headers, rest[:length]))
        raw = rest[length:]
    return responses


async def test_blocking_task_is_answered_after_the_client_half_closes(loadtester: LoadTester) -> None:
    request = _post({"metadata": {"type": "bash", "cmd": "sleep 0.2; echo done", "returnCmdOutput": "true"}})
    [(status, headers, body)] = _responses(await _send_then_half_close(loadtester, request))
    assert (status, body) == ("HTTP/1.1 200 OK", b"done\n")
    assert headers["connection"] == "close"


async def test_a_half_close_while_the_task_runs_still_gets_the_answer(loadtester: LoadTester) -> None:
    request = _post(
        {"metadata": {"type": "bash", "cmd": "sleep 0.3; printf late", "returnCmdOutput": "true"}}
    )

    async def task_running() -> None:
        assert await eventually(lambda: loadtester.app[RUNNER].snapshot()["running"])

    [(status, _, body)] = _responses(await _send_then_half_close(loadtester, request, task_running))
    assert (status, body) == ("HTTP/1.1 200 OK", b"late")


async def test_gate_check_is_answered_after_the_client_half_closes(loadtester: LoadTester) -> None:
    request = _post({"name": "podinfo", "namespace": "test"}, "/gate/check")
    [(status, _, body)] = _responses(await _send_then_half_close(loadtester, request))
    assert (status, body) == ("HTTP/1.1 403 Forbidden", b"Forbidden")


async def test_pipelined_requests_are_all_answered_before_the_connection_closes(
    loadtester: LoadTester,
) -> None:
    requests = _post({"metadata": {"type": "bash", "cmd": "printf one", "returnCmdOutput": "true"}}) + _post(
        {"metadata": {"type": "bash", "cmd": "printf two", "returnCmdOutput": "true"}}
    )
    answers = _responses(await _send_then_half_close(loadtester, requests))
    assert [(status, body) for status, _, body in answers] == [
        ("HTTP/1.1 200 OK", b"one"),
        ("HTTP/1.1 200 OK", b"two"),
    ]


async def test_a_body_cut_short_by_the_half_close_is_a_400(loadtester: LoadTester) -> None:
    # Go: reading the body fails with "unexpected EOF", answered 400 with an empty body.
    request = b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"metadata": {'
    [(status, _, body)] = _responses(await _send_then_half_close(loadtester, request))
    assert (status, body) == ("HTTP/1.1 400 Bad Request", b"")


async def test_a_half_close_with_nothing_asked_closes_the_connection(loadtester: LoadTester) -> None:
    assert await _send_then_half_close(loadtester, b"") == b""
