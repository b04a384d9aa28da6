"""A loopback HTTP server that records requests and answers from a script: the stand-in for remote
services (Concord, nGrinder) that cannot run here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiohttp import web


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    form: list[tuple[str, str]]


Answer = Callable[[web.Request], Any]  # returns a JSON-able body, or a web.Response


class RecordingServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], Answer] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    def on(self, method: str, path: str, answer: Answer) -> None:
        self.routes[(method, path)] = answer

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form: list[tuple[str, str]] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                form.append((part.name or "", (await part.read()).decode()))  # type: ignore[union-attr]
        self.requests.append(
            Recorded(request.method, request.path, request.query_string, dict(request.headers), form)
        )
        answer = self.routes.get((request.method, request.path))
        if answer is None:
            return web.Response(status=404)
        body = answer(request)
        return body if isinstance(body, web.StreamResponse) else web.json_response(body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
