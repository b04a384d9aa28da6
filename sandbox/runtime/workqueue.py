"""A de-duplicating work queue of object keys with delayed re-queueing (client-go's workqueue, small)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Key = tuple[str, str]


class WorkQueue:
    """Keys added while queued are merged; one worker reconciles them one at a time.

    Reconcilers are level-triggered: they read the informer caches, so merging many events for the same
    key into one reconcile loses nothing.
    """

    def __init__(self, name: str, reconcile: Callable[[Key], Awaitable[float | None]]) -> None:
        self.name = name
        self._reconcile = reconcile
        self._pending: dict[Key, None] = {}
        self._wakeup = asyncio.Event()
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def add(self, key: Key) -> None:
        self._pending[key] = None
        self._wakeup.set()

    def add_after(self, key: Key, delay: float) -> None:
        """Reconcile `key` again after `delay` seconds (an earlier request wins)."""
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None:
            if existing.when() <= loop.time() + delay:
                return
            existing.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending:
                    key = next(iter(self._pending))
                    del self._pending[key]
                    try:
                        again = await self._reconcile(key)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        log.warning("%s: reconcile of %s/%s failed: %s", self.name, key[0], key[1], exc)
                        again = 1.0
                    if again is not None:
                        self.add_after(key, again)
        finally:
            for timer in self._timers.values():
                timer.cancel()
