"""Readiness probes, run from the node's point of view against the pod's IP.

`localhost` inside an exec probe means the pod itself: the exec probes the real images use (`podcli check
http localhost:9898/readyz`, `wget --spider http://localhost:8080/healthz`, `curl ...`) are performed as the
HTTP GET they stand for, against the pod IP. Any other exec command runs in the pod's context and succeeds
on exit status 0. Connections are opened through a `Connector`, so a node whose pods live in network
namespaces can open them from inside its own namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sandbox.runtime.processes import PodContext

HTTP_PROBE_TOOLS = re.compile(r"(^|/)(podcli|wget|curl)$")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
#: Opens a TCP connection to `(host, port)` (a node's version opens it inside its network namespace).
Connector = Callable[[str, int], Awaitable[Streams]]


async def open_connection(host: str, port: int) -> Streams:
    return await asyncio.open_connection(host, port)


def resolve_port(port: Any, container: dict[str, Any]) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"port {port!r} is not declared by container {container.get('name')!r}")


def exec_probe_url(command: Sequence[str], pod_ip: str) -> str | None:
    """The URL an HTTP-checking exec probe fetches, with localhost mapped to the pod IP; else None."""
    if not command or not HTTP_PROBE_TOOLS.search(command[0]):
        return None
    for token in command[1:]:
        if token.startswith("-") or token in ("check", "http"):
            continue
        url = token if "://" in token else f"http://{token}"
        match = re.match(r"^(https?://)([^/:]+)(.*)$", url)
        if match is None:
            continue
        scheme, host, rest = match.groups()
        if host in LOCAL_HOSTS:
            host = pod_ip
        return f"{scheme}{host}{rest}"
    return None


def _split_url(url: str) -> tuple[bool, str, int, str]:
    match = re.match(r"^(https?)://([^/:]+)(?::(\d+))?(.*)$", url)
    if match is None:
        raise ValueError(f"cannot probe {url!r}")
    scheme, host, port, path = match.groups()
    secure = scheme == "https"
    return secure, host, int(port) if port else (443 if secure else 80), path or "/"


def _insecure_context() -> ssl.SSLContext:
    """HTTPS probes do not verify the certificate, as the kubelet's do not."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def http_get_ok(url: str, timeout_seconds: float, connect: Connector = open_connection) -> bool:
    """A kubelet-style HTTP probe: any status from 200 to 399 is a success."""
    secure, host, port, path = _split_url(url)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_seconds):
            reader, writer = await connect(host, port)
            if secure:
                await writer.start_tls(_insecure_context(), server_hostname=host)
            request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.34\r\n"
            writer.write((request + "Connection: close\r\n\r\n").encode())
            await writer.drain()
            status_line = (await reader.readline()).decode(errors="replace").split()
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    return len(status_line) >= 2 and status_line[1].isdigit() and 200 <= int(status_line[1]) < 400


async def tcp_open(
    host: str, port: int, timeout_seconds: float, connect: Connector = open_connection
) -> bool:
    try:
        _, writer = await asyncio.wait_for(connect(host, port), timeout=timeout_seconds)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def run_command_ok(command: Sequence[str], timeout_seconds: float, context: PodContext) -> bool:
    try:
        process = await asyncio.create_subprocess_exec(
            *context.wrap(command),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return False
    try:
        return await asyncio.wait_for(process.wait(), timeout=timeout_seconds) == 0
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


async def run_probe(
    probe: dict[str, Any],
    container: dict[str, Any],
    pod_ip: str,
    context: PodContext | None = None,
    connect: Connector = open_connection,
) -> bool:
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "httpGet" in probe:
        action = probe["httpGet"]
        scheme = str(action.get("scheme") or "HTTP").lower()
        host = action.get("host") or pod_ip
        path = action.get("path") or "/"
        port = resolve_port(action.get("port"), container)
        return await http_get_ok(f"{scheme}://{host}:{port}{path}", timeout, connect)
    if "tcpSocket" in probe:
        action = probe["tcpSocket"]
        port = resolve_port(action.get("port"), container)
        return await tcp_open(action.get("host") or pod_ip, port, timeout, connect)
    if "grpc" in probe:
        return await tcp_open(pod_ip, int(probe["grpc"].get("port")), timeout, connect)
    if "exec" in probe:
        command = [str(token) for token in probe["exec"].get("command") or []]
        url = exec_probe_url(command, pod_ip)
        if url is not None:
            return await http_get_ok(url, timeout, connect)
        return await run_command_ok(command, timeout, context or PodContext())
    raise ValueError("probe has no httpGet, tcpSocket, grpc or exec action")
