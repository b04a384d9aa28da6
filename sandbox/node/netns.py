"""Network namespaces: `ip` commands, and sockets opened inside a namespace from this process.

A socket belongs to the network namespace its creator was in when it was created; `setns(2)` switches
only the calling thread. So `socket_in(path)` switches this thread into the namespace, creates the socket
and switches back: one process can listen and connect in the node's namespace (Service proxy, probes)
while its API client and the kubelet API stay on the host's loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
from collections.abc import Iterator
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(Exception):
    """An `ip` command failed, or a namespace cannot be entered."""


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(errno)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """This thread inside namespace `name` for the block (keep it short: no awaits inside)."""
    try:
        target = os.open(netns_path(name), os.O_RDONLY)
    except OSError as exc:
        raise NetnsError(f"network namespace {name} does not exist: {exc}") from exc
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def socket_in(name: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    with entered(name):
        sock = socket.socket(socket.AF_INET, kind)
    sock.setblocking(False)
    return sock


async def connect_in(name: str, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection opened inside namespace `name`."""
    sock = socket_in(name)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


def listening_socket_in(name: str, host: str, port: int) -> socket.socket:
    sock = socket_in(name)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


async def ip(*args: str, check: bool = True) -> str:
    """Run `ip ARGS`; NetnsError with its message when it fails (and `check`)."""
    try:
        process = await asyncio.create_subprocess_exec(
            "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise NetnsError("the node agent needs the `ip` command (apt-get install iproute2)") from exc
    out, err = await process.communicate()
    if check and process.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


def existing(prefix: str) -> list[str]:
    """Names of the namespaces under /run/netns that start with `prefix`."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(entry.name for entry in NETNS_DIR.iterdir() if entry.name.startswith(prefix))
