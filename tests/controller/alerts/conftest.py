"""A loopback chat service that records every request: the stand-in for Slack, Teams, Discord & co."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str
    """The request target as sent: `/services/x`, or `http://host/services/x` when it came via a proxy."""
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ChatServer:
    """Answers `status`/`body` (per path when set in `answers`), optionally after `delay` seconds."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    status: int = 200
    body: str = "ok"
    delay: float = 0.0
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                raw_path=request.raw_path,
                path=request.path,
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        status, body = self.answers.get(request.path, (self.status, self.body))
        return web.Response(status=status, text=body)

    def payloads(self) -> list[Any]:
        return [request.json() for request in self.requests]


async def start_chat_server(host: str = "127.0.0.1") -> tuple[ChatServer, web.AppRunner]:
    server = ChatServer(host=host)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    server.port = runner.addresses[0][1]
    return server, runner


@pytest.fixture
async def chat() -> AsyncIterator[ChatServer]:
    server, runner = await start_chat_server("127.0.0.1")
    yield server
    await runner.cleanup()


@pytest.fixture
async def proxy() -> AsyncIterator[ChatServer]:
    """A second recorder on its own loopback address, playing an HTTP proxy (it answers itself)."""
    server, runner = await start_chat_server("127.0.0.2")
    yield server
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
