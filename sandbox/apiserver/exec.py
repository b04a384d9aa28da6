"""``pods/exec`` over WebSocket: the remote command protocol of kubectl >= 1.30 (``v5.channel.k8s.io``).

kubectl 1.31 and 1.33 open ``GET .../pods/NAME/exec?command=..&container=..&stdin=..&stdout=..&tty=..``
as a WebSocket offering only ``v5.channel.k8s.io`` (``v4`` is accepted too: it lacks the close signal). Each
binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize (``{"Width",
"Height"}`` JSON) and, in v5, 255 close: ``[255, 0]`` says the client's stdin ended. The command's end is
one v1 Status on channel 3 (Success, or Failure/NonZeroExitCode with an ExitCode cause, as the kubelet writes
it) followed by a normal WebSocket close, which kubectl reads as EOF on every stream.

Any answer other than 101 makes kubectl retry with SPDY (``POST``) and print that second answer, so every
refusal is decided before the upgrade and answered the same way to both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from .errors import ApiError
from .meta import parse_bool

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)
#: kubectl pings every 5 s and gives up after a minute without a pong; aiohttp answers pings itself.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class ExecProcess(Protocol):
    """A command started by an :class:`ExecBackend`."""

    async def read_output(self) -> tuple[int, bytes] | None:
        """The next output chunk as ``(fd, data)`` with fd 1 or 2; None once all output has ended."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code (128 + N for a command killed by signal N)."""

    async def kill(self) -> None: ...


class ExecBackend(Protocol):
    """Runs commands in pods: the pod runtime (the sandbox's kubelet) provides it."""

    def check(self, namespace: str, pod: str, uid: str, container: str) -> None:
        """Raise LookupError (answered 404) when the pod's container does not run here."""

    async def start(
        self, namespace: str, pod: str, container: str, command: Sequence[str], *, stdin: bool, tty: bool
    ) -> ExecProcess:
        """Start the command in the container's context; OSError when it cannot be started."""


@dataclass(frozen=True)
class ExecOptions:
    """The query of an exec request (``PodExecOptions``)."""

    container: str | None
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Any) -> ExecOptions:
        options = cls(
            container=query.get("container") or None,
            command=tuple(query.getall("command", [])),
            stdin=parse_bool(query.get("stdin"), "stdin"),
            stdout=parse_bool(query.get("stdout"), "stdout"),
            stderr=parse_bool(query.get("stderr"), "stderr"),
            tty=parse_bool(query.get("tty"), "tty"),
        )
        if not options.command:
            raise ApiError(400, "BadRequest", "you must specify at least one command for the container")
        if not (options.stdin or options.stdout or options.stderr):
            raise ApiError(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
        return options

    @property
    def channels(self) -> set[int]:
        """Output channels the client opened (a TTY merges stderr into stdout, as the kubelet does)."""
        wanted = {STDOUT} if self.stdout else set()
        if self.stderr and not self.tty:
            wanted.add(STDERR)
        return wanted


def exit_status(code: int) -> dict[str, Any]:
    """The Status the kubelet writes on the error channel when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    status = ApiError(500, "InternalError", f"error executing command in container: {message}").to_status()
    status.pop("kind"), status.pop("apiVersion")
    return status


def wants_websocket(request: web.Request) -> bool:
    offered = {p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")}
    return request.headers.get("Upgrade", "").lower() == "websocket" and bool(offered & set(PROTOCOLS))


def refuse_other_protocols(request: web.Request) -> None:
    if not wants_websocket(request):
        raise ApiError(
            400,
            "BadRequest",
            "the sandbox API server speaks only the WebSocket remote command protocol "
            f"({V5} or {V4}, kubectl >= 1.30), not SPDY",
        )


async def serve_exec(
    request: web.Request, backend: ExecBackend, namespace: str, pod: str, container: str, options: ExecOptions
) -> web.WebSocketResponse:
    """Upgrade, start the command, and relay its streams until it ends or the client goes away."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    try:
        process = await backend.start(
            namespace, pod, container, options.command, stdin=options.stdin, tty=options.tty
        )
    except (OSError, LookupError) as exc:
        await _finish(ws, internal_error_status(str(exc)))
        return ws
    relay = asyncio.create_task(_relay_output(ws, process, options.channels))
    listen = asyncio.create_task(_relay_input(ws, process, ws.ws_protocol == V5))
    try:
        await asyncio.wait({relay, listen}, return_when=asyncio.FIRST_COMPLETED)
        if relay.done() and relay.exception() is None:
            await _finish(ws, exit_status(await process.wait()))
        else:  # the client went away (or a send failed): nobody is left to read the output
            await process.kill()
    finally:
        for task in (relay, listen):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not ws.closed:
            await process.kill()
            await ws.close()
    return ws


async def _finish(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
        await ws.close()


async def _relay_output(ws: web.WebSocketResponse, process: ExecProcess, channels: set[int]) -> None:
    while (chunk := await process.read_output()) is not None:
        channel, data = chunk
        if channel in channels and data:
            await ws.send_bytes(bytes([channel]) + data)


async def _relay_input(ws: web.WebSocketResponse, process: ExecProcess, closable: bool) -> None:
    async for message in ws:
        if message.type != WSMsgType.BINARY or not message.data:
            continue
        data: bytes = message.data
        channel, payload = data[0], data[1:]
        if channel == STDIN:
            await process.write_stdin(payload)
        elif channel == RESIZE:
            _resize(process, payload)
        elif channel == CLOSE and closable and payload[:1] == bytes([STDIN]):
            await process.close_stdin()


def _resize(process: ExecProcess, payload: bytes) -> None:
    try:
        size = json.loads(payload)
        process.resize(int(size["Width"]), int(size["Height"]))
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed resize message: %r", payload[:100])
