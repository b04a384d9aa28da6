"""What one controller did in its namespace, recorded from outside: every Canary status it wrote and every
event it emitted, in the order the API server's watches delivered them, with the local arrival time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.kube.api import CANARIES, CORE_EVENTS, KubeApi
from controller.kube.watchcache import WatchCache


@dataclass(frozen=True)
class Event:
    at: float
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Status:
    at: float
    status: dict[str, Any]


@dataclass
class Trace:
    """Watches Canaries and core/v1 Events of one namespace; `.statuses`/`.events` are keyed by Canary."""

    api: KubeApi
    namespace: str
    statuses: dict[str, list[Status]] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = field(default_factory=list)
    _caches: list[WatchCache] = field(default_factory=list)
    _last_change: float = field(default_factory=time.monotonic)

    async def start(self) -> None:
        canaries = WatchCache(
            self.api, CANARIES, self.namespace, watch_timeout_seconds=60, on_change=self._canary
        )
        events = WatchCache(
            self.api, CORE_EVENTS, self.namespace, watch_timeout_seconds=60, on_change=self._event
        )
        self._caches = [canaries, events]
        for cache in self._caches:
            await cache.start()

    async def stop(self) -> None:
        for cache in self._caches:
            await cache.stop()

    def _canary(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            return
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        history = self.statuses.setdefault(name, [])
        if not history or history[-1].status != status:
            history.append(Status(time.monotonic(), status))
        self._wake()

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        if kind == "DELETED" or involved.get("kind") != "Canary":
            return
        # client-go (Flagger) counts repeats in `count`; Flagman's events.k8s.io series is `series.count`.
        count = max(int(obj.get("count") or 0), int((obj.get("series") or {}).get("count") or 0), 1)
        key = obj["metadata"]["name"]
        new = count - self._counts.get(key, 0)
        self._counts[key] = count
        history = self.events.setdefault(str(involved.get("name")), [])
        message = str(obj.get("message") or obj.get("note") or "")
        for _ in range(max(new, 0)):
            history.append(Event(time.monotonic(), str(obj.get("type")), str(obj.get("reason")), message))
        self._wake()

    def _wake(self) -> None:
        self._last_change = time.monotonic()
        for probe, future in list(self._waiters):
            if not future.done() and probe():
                future.set_result(None)
                self._waiters.remove((probe, future))

    async def until(self, probe: Callable[[], bool], within: float, what: str) -> None:
        """Wait until `probe()` holds, re-checked on every recorded change; a timeout names `what`."""
        if probe():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((probe, future))
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(
                f"{self.namespace}: timed out after {within:.0f} s waiting for {what}"
            ) from None
        finally:
            if (probe, future) in self._waiters:
                self._waiters.remove((probe, future))

    async def settled(self, quiet: float = 5.0, within: float = 60.0) -> None:
        """Until nothing new was recorded for `quiet` seconds: a controller may still be writing the events of
        a step whose status the scenario already saw (Flagger emits some after the phase changes)."""
        deadline = time.monotonic() + within
        while (idle := time.monotonic() - self._last_change) < quiet:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.namespace}: still changing after {within:.0f} s")
            await asyncio.sleep(quiet - idle)

    # -- probes --
    def phase(self, name: str) -> str:
        history = self.statuses.get(name) or []
        return str(history[-1].status.get("phase", "")) if history else ""

    def phases(self, name: str) -> list[str]:
        return [str(s.status.get("phase", "")) for s in self.statuses.get(name) or []]

    def messages(self, name: str) -> list[str]:
        return [e.message for e in self.events.get(name) or []]

    def has_message(self, name: str, fragment: str) -> bool:
        return any(fragment in message for message in self.messages(name))

    async def wait_phase(self, name: str, phase: str, within: float = 240.0, after: int = 0) -> None:
        """Until the Canary has been in `phase` (at or after its `after`-th recorded status)."""
        await self.until(lambda: phase in self.phases(name)[after:], within, f"{name} phase {phase}")

    async def wait_status(
        self, name: str, what: str, probe: Callable[[dict[str, Any]], bool], within: float = 240.0
    ) -> None:
        """Until the latest status of the Canary satisfies `probe` (the status is the record)."""

        def holds() -> bool:
            history = self.statuses.get(name) or []
            return bool(history) and probe(history[-1].status)

        await self.until(holds, within, f"{name} {what}")

    async def wait_message(self, name: str, fragment: str, within: float = 240.0) -> None:
        await self.until(lambda: self.has_message(name, fragment), within, f"{name} event {fragment!r}")
