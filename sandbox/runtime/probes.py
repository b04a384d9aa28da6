"""Readiness probes, run from the node's point of view against the pod's own loopback IP.

Pods share the host's network namespace here, so `localhost` inside an exec probe means the pod IP: the
exec probes the real images use (`podcli check http localhost:9898/readyz`, `wget --spider
http://localhost:8080/healthz`, `curl ...`) are performed as the HTTP GET they stand for. Any other exec
command runs as a local process and succeeds on exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from sandbox.runtime.processes import with_hosts_file

HTTP_PROBE_TOOLS = re.compile(r"(^|/)(podcli|wget|curl)$")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")


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


async def http_get_ok(url: str, timeout_seconds: float) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_seconds)) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            return 200 <= response.status < 400
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


async def tcp_open(host: str, port: int, timeout_seconds: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=timeout_seconds)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def run_command_ok(command: Sequence[str], timeout_seconds: float, hosts_file: Path | None) -> bool:
    try:
        process = await asyncio.create_subprocess_exec(
            *with_hosts_file(command, hosts_file),
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
    probe: dict[str, Any], container: dict[str, Any], pod_ip: str, hosts_file: Path | None = None
) -> bool:
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "httpGet" in probe:
        action = probe["httpGet"]
        scheme = str(action.get("scheme") or "HTTP").lower()
        host = action.get("host") or pod_ip
        path = action.get("path") or "/"
        port = resolve_port(action.get("port"), container)
        return await http_get_ok(f"{scheme}://{host}:{port}{path}", timeout)
    if "tcpSocket" in probe:
        action = probe["tcpSocket"]
        return await tcp_open(
            action.get("host") or pod_ip, resolve_port(action.get("port"), container), timeout
        )
    if "grpc" in probe:
        return await tcp_open(pod_ip, int(probe["grpc"].get("port")), timeout)
    if "exec" in probe:
        command = [str(token) for token in probe["exec"].get("command") or []]
        url = exec_probe_url(command, pod_ip)
        if url is not None:
            return await http_get_ok(url, timeout)
        return await run_command_ok(command, timeout, hosts_file)
    raise ValueError("probe has no httpGet, tcpSocket, grpc or exec action")
