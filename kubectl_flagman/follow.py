"""``status NAME --watch``: follow a release through a watch until it ends, for people and for CI."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from controller.api import Phase
from kubectl_flagman import render
from kubectl_flagman.cluster import Cluster
from kubectl_flagman.errors import ExitCode

RUNNING = frozenset(
    {Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}
)
WATCH_SECONDS = 300  # one watch request; re-established until the deadline


def verdict(body: Mapping[str, Any], seen_running: bool, release: bool) -> ExitCode | None:
    """The exit code once the release ended, else None. With ``release`` (``--release``) a Succeeded or
    Failed phase counts only after a running phase was seen, so the previous release's end is not taken
    for the end of the one just started."""
    phase = str((body.get("status") or {}).get("phase") or "")
    if release and not seen_running:
        return None
    if phase == Phase.SUCCEEDED or (phase == Phase.INITIALIZED and not release):
        return ExitCode.OK
    if phase == Phase.FAILED:
        return ExitCode.FAILED
    return None


async def follow(cluster: Cluster, name: str, *, within: float, release: bool) -> ExitCode:
    try:
        async with asyncio.timeout(within):
            return await _follow(cluster, name, release)
    except TimeoutError:
        print(f"error: {name}.{cluster.namespace} did not finish within {within:g}s")
        return ExitCode.TIMEOUT


async def _follow(cluster: Cluster, name: str, release: bool) -> ExitCode:
    seen_running = False
    last_line = ""
    printed_events: set[str] = set()
    deadline = time.monotonic() + WATCH_SECONDS
    while True:
        async for body in cluster.watch_canary(name, WATCH_SECONDS):
            phase = str((body.get("status") or {}).get("phase") or "")
            seen_running = seen_running or phase in RUNNING
            for event in await cluster.events(name, cluster.namespace):
                uid = str((event.get("metadata") or {}).get("uid") or event.get("message"))
                if uid not in printed_events:
                    printed_events.add(uid)
                    print(f"  {event.get('type', '')}: {event.get('message', '')}", flush=True)
            line = render.progress_line(body)
            if line != last_line:
                print(line, flush=True)
                last_line = line
            code = verdict(body, seen_running, release)
            if code is not None:
                print(f"{name}.{cluster.namespace}: {phase}", flush=True)
                return code
        if time.monotonic() > deadline:  # a watch ended early by the server: follow on
            deadline = time.monotonic() + WATCH_SECONDS
