"""A TCP proxy for one Service port: accepts on the ClusterIP and forwards to ready endpoints, round robin.

This is kube-proxy's job. With no ready endpoint the connection is reset, which clients see as
"connection refused/reset", as they would with a real Service that has no endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Callable

from sandbox.runtime.probes import Connector, open_connection

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
CHUNK = 64 * 1024

Backend = tuple[str, int]
#: Makes the listening socket for `(address, port)` (a node's version makes it in its own namespace).
Listener = Callable[[str, int], socket.socket]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class PortProxy:
    def __init__(
        self,
        address: str,
        port: int,
        listen: Listener | None = None,
        connect: Connector = open_connection,
    ) -> None:
        self.address = address
        self.port = port
        self.listen = listen
        self.connect = connect
        self.backends: list[Backend] = []
        self._counter = itertools.count()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.listen is not None:
            self._server = await asyncio.start_server(self._accept, sock=self.listen(self.address, self.port))
        else:
            self._server = await asyncio.start_server(
                self._accept, self.address, self.port, reuse_address=True
            )

    def set_backends(self, backends: list[Backend]) -> None:
        self.backends = list(backends)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = list(self.backends)
        if not backends:
            return None
        start = next(self._counter) % len(backends)
        for offset in range(len(backends)):
            host, port = backends[(start + offset) % len(backends)]
            try:
                return await asyncio.wait_for(self.connect(host, port), CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError):
                continue
        return None

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            client_writer.transport.abort()
            return
        upstream_reader, upstream_writer = upstream
        try:
            await asyncio.gather(_pump(client_reader, upstream_writer), _pump(upstream_reader, client_writer))
        finally:
            for writer in (upstream_writer, client_writer):
                writer.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
