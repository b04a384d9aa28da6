"""Answer a client that sends its request and then half-closes the connection (TCP FIN).

Go's net/http reads the request, sees the end of the stream, still writes the answer and then closes.
aiohttp's connection protocol keeps asyncio's default `eof_received`, so the transport closes at the
FIN and the answer is lost (aio-libs/aiohttp#3659, open since 2019); `printf 'POST / ...' | nc -N` or a
script that calls `shutdown(SHUT_WR)` gets nothing back. `LoadTesterRunner` is aiohttp's `AppRunner`
whose connections keep the write side open until every request received before the FIN is answered.

This subclasses aiohttp's `RequestHandler` and reads a few of its private fields (`_messages`,
`_waiter`, `_close`); tests/loadtester/test_half_close.py fails if a
new aiohttp changes them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest


class _AnsweringRequestHandler(RequestHandler):
    __slots__ = ("_client_done", "_latest_body")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_done = False
        self._latest_body: StreamReader | None = None  # only the latest request's body can be incomplete

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            self._latest_body = self._messages[-1][1]

    def eof_received(self) -> bool:  # type: ignore[override]  # asyncio.Protocol: "True keeps it open"
        # Idle means waiting for a next request with none queued. Not idle also covers a request
        # taken off the queue whose handler has not started yet (it arrived with the FIN).
        waiting = self._waiter is not None and not self._waiter.done()
        if waiting and not self._messages:
            return False  # nothing asked that is not answered: close now, as before
        self._client_done = True
        body = self._latest_body
        if body is not None and not body.is_eof():  # never complete now; Go answers it 400
            body.set_exception(ConnectionResetError("the client closed the connection mid-body"))
        if not self._messages:
            self._close = True  # the request being handled is the last one: close after its answer
        return True  # keep our side open for the answers

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        if self._client_done and not self._messages:
            resp.force_close()  # `Connection: close`, then the connection closes after this answer
        return await super().finish_response(request, resp, start_time)


class _AnsweringServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _AnsweringRequestHandler(self, loop=self._loop, **self._kwargs)


class LoadTesterRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer requests sent before a half-close."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # AppRunner builds a plain Server (via the app's private factory); only the protocol differs.
        server.__class__ = _AnsweringServer
        return server
