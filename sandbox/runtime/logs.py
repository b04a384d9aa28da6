"""Container logs for `kubectl logs`: the API server's `pods/log` reads the files the pod runtime writes."""

from __future__ import annotations

import asyncio
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


class PodLogReader:
    """The `PodLogs` source the API server calls: `(pod, container, query) -> text`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    async def __call__(self, pod: dict[str, Any], container: str, query: dict[str, str]) -> str:
        meta = pod["metadata"]
        path = log_path(self.log_dir, meta.get("namespace", ""), meta["name"], container)
        return await asyncio.to_thread(read_log, path, query)
