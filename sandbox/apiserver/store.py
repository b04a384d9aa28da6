"""The object store: one global resourceVersion counter, objects per storage key, a watch history.

Everything runs on the server's event loop, so there are no locks: a write is a synchronous call that
bumps the counter, replaces the stored dict (stored dicts are never mutated in place, so watch events
and the next version of an object can share them) and fans the event out to the watchers of its
storage, a deque append each (and a wake-up for a stream that waits).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .selectors import Selection

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    storage: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    # Serialized forms shared by every watcher of the same view (one json.dumps per event, not per watch).
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(eq=False)
class Watcher:
    """One open watch: its filter and the events its stream has yet to send (None = drop the watch).

    A deque and a bare future rather than an ``asyncio.Queue`` read with ``wait_for``: that made a task
    and a timer per event and per watcher. The stream's own timer (bookmarks, the timeout) calls ``wake``.
    """

    storage: str
    selection: Selection
    pending: deque[WatchEvent | None] = field(default_factory=deque)
    _waiter: asyncio.Future[None] | None = field(default=None, repr=False)

    def push(self, event: WatchEvent | None) -> None:
        self.pending.append(event)
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until an event is pending or ``wake`` is called (returns at once if one is pending)."""
        if self.pending:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def translate(self, event: WatchEvent) -> WatchEvent | None:
        """The event as this watcher sees it: leaving the selection is a DELETED, entering an ADDED."""
        selection = self.selection
        if not selection.labels.requirements and not selection.fields.terms:
            # Only the namespace filters, and an object never changes namespace: no translation to do.
            if selection.namespace is None or event.obj.get("metadata", {}).get("namespace", "") == (
                selection.namespace
            ):
                return event
            return None
        now_matches = selection.matches(event.obj)
        if event.type == "MODIFIED" and event.old is not None:
            was_matching = selection.matches(event.old)
            if was_matching and not now_matches:
                return WatchEvent(event.rv, event.storage, "DELETED", event.obj)
            if now_matches and not was_matching:
                return WatchEvent(event.rv, event.storage, "ADDED", event.obj)
        return event if now_matches else None


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata", {})
    return (metadata.get("namespace", "") or "", metadata.get("name", ""))


class Store:
    def __init__(self, history_size: int = 10_000) -> None:
        self.rv = 1
        self.objects: dict[str, dict[Key, dict[str, Any]]] = {}
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.compacted_rv = 0  # every event with rv > compacted_rv is still in history
        self.watchers: set[Watcher] = set()
        self._watchers_of: dict[str, set[Watcher]] = {}  # the same watchers by storage

    # -- reads -------------------------------------------------------------------------------
    def get(self, storage: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(storage, {}).get((namespace, name))

    def items(self, storage: str, selection: Selection | None = None) -> list[dict[str, Any]]:
        """Matching objects sorted by (namespace, name), the order kube-apiserver lists in."""
        bucket = self.objects.get(storage, {})
        if selection is not None and selection.namespace is not None:
            keys: Iterable[Key] = (k for k in bucket if k[0] == selection.namespace)
        else:
            keys = bucket
        result = []
        for key in sorted(keys):
            obj = bucket[key]
            if selection is None or selection.matches(obj):
                result.append(obj)
        return result

    def all_objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for storage, bucket in self.objects.items():
            for obj in bucket.values():
                yield storage, obj

    def count(self) -> int:
        return sum(len(bucket) for bucket in self.objects.values())

    # -- writes ------------------------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, storage: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (taking ownership of it) with a fresh resourceVersion; emit ADDED/MODIFIED."""
        rv = self.next_rv()
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        key = key_of(obj)
        bucket = self.objects.setdefault(storage, {})
        old = bucket.get(key)
        bucket[key] = obj
        self._emit(WatchEvent(rv, storage, "MODIFIED" if old is not None else "ADDED", obj, old))
        return obj

    def remove(self, storage: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete the object; the DELETED event carries the deletion's resourceVersion."""
        bucket = self.objects.get(storage, {})
        old = bucket.pop((namespace, name), None)
        if old is None:
            return None
        rv = self.next_rv()
        gone = {**old, "metadata": {**old.get("metadata", {}), "resourceVersion": str(rv)}}
        self._emit(WatchEvent(rv, storage, "DELETED", gone))
        return gone

    def drop_storage(self, storage: str) -> None:
        self.objects.pop(storage, None)

    def _emit(self, event: WatchEvent) -> None:
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for watcher in self._watchers_of.get(event.storage, ()):
            translated = watcher.translate(event)
            if translated is not None:
                watcher.push(translated)

    def compact(self) -> None:
        """Forget the whole watch history (tests use it to provoke 410 Gone)."""
        if self.history:
            self.compacted_rv = self.history[-1].rv
        self.compacted_rv = max(self.compacted_rv, self.rv)
        self.history.clear()

    # -- watches -----------------------------------------------------------------------------
    def is_too_old(self, rv: int) -> bool:
        return rv < self.compacted_rv

    def replay(self, storage: str, since_rv: int, watcher: Watcher) -> list[WatchEvent]:
        events = []
        for event in self.history:
            if event.rv > since_rv and event.storage == storage:
                translated = watcher.translate(event)
                if translated is not None:
                    events.append(translated)
        return events

    def open_watch(self, storage: str, selection: Selection) -> Watcher:
        watcher = Watcher(storage, selection)
        self.watchers.add(watcher)
        self._watchers_of.setdefault(storage, set()).add(watcher)
        return watcher

    def close_watch(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        of_storage = self._watchers_of.get(watcher.storage)
        if of_storage is not None:
            of_storage.discard(watcher)
            if not of_storage:
                del self._watchers_of[watcher.storage]

    def drop_watches(self, storage: str | None = None) -> int:
        """End open watches (fault injection): their streams close as if the server restarted them."""
        dropped = 0
        for watcher in list(self.watchers):
            if storage is None or watcher.storage == storage:
                watcher.push(None)
                dropped += 1
        return dropped

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "resourceVersion": self.rv,
            "objects": {storage: list(bucket.values()) for storage, bucket in self.objects.items() if bucket},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.rv = int(snapshot.get("resourceVersion", 1))
        self.objects = {
            storage: {key_of(obj): obj for obj in objs}
            for storage, objs in snapshot.get("objects", {}).items()
        }
        self.history.clear()
        self.compacted_rv = self.rv
