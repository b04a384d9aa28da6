"""Container logs for `kubectl logs`: the API server's `pods/log` reads the files the pod runtime writes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any


def log_path(log_dir: Path, namespace: str, pod: str, container: str) -> Path:
    return log_dir / namespace / pod / f"{container}.log"


def read_log(path: Path, query: dict[str, str]) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    tail = query.get("tailLines")
    if tail is not None and tail.lstrip("-").isdigit() and int(tail) >= 0:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[len(lines) - int(tail) :]) if int(tail) else ""
    limit = query.get("limitBytes")
    if limit is not None and limit.isdigit():
        text = text[: int(limit)]
    return text


def _tail_lines(data: bytes, query: dict[str, str]) -> bytes:
    tail = query.get("tailLines")
    if tail is None or not tail.isdigit():
        return data
    lines = data.splitlines(keepends=True)
    return b"".join(lines[len(lines) - int(tail) :]) if int(tail) else b""


class LogFollower:
    """`kubectl logs -f`: the log as `tailLines` selects it first, then every byte the container appends.

    Reads by offset, so each poll costs only what was appended; a log file that shrank (recreated) is read
    again from its start.
    """

    def __init__(self, path: Path, query: dict[str, str]) -> None:
        self.path = path
        self.query = query
        self.offset: int | None = None
        limit = query.get("limitBytes")
        self.remaining = int(limit) if limit is not None and limit.isdigit() else None

    async def read_new(self) -> bytes:
        return await asyncio.to_thread(self._read_new)

    def _read_new(self) -> bytes:
        try:
            with self.path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                first = self.offset is None
                start = 0 if self.offset is None or size < self.offset else self.offset
                handle.seek(start)
                data = handle.read(size - start)
        except FileNotFoundError:
            return b""
        self.offset = start + len(data)
        if first:
            data = _tail_lines(data, self.query)
        if self.remaining is not None:
            data, self.remaining = data[: self.remaining], max(0, self.remaining - len(data))
        return data


class PodLogReader:
    """The `PodLogs` source the API server calls: `(pod, container, query) -> text`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    async def __call__(self, pod: dict[str, Any], container: str, query: dict[str, str]) -> str:
        meta = pod["metadata"]
        path = log_path(self.log_dir, meta.get("namespace", ""), meta["name"], container)
        return await asyncio.to_thread(read_log, path, query)

    def follow(self, pod: dict[str, Any], container: str, query: dict[str, str]) -> LogFollower:
        """The API server's `PodLogFollow`: a follower for one `follow=true` request."""
        meta = pod["metadata"]
        return LogFollower(log_path(self.log_dir, meta.get("namespace", ""), meta["name"], container), query)
