"""List-then-watch caches of one kind, like client-go's informers, feeding the controllers' work queues."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sandbox.runtime.kube import Kube, KubeError, Obj, Resource, key_of

log = logging.getLogger(__name__)

Key = tuple[str, str]
#: Called with the event type (ADDED, MODIFIED, DELETED) and the object (the last known one on DELETED).
Listener = Callable[[str, Obj], None]

RETRY_DELAY_SECONDS = 0.5


class Informer:
    """Keeps `cache` equal to the server's objects of one kind across every namespace.

    A failed or expired watch (410) relists, and the relist reports the differences as synthetic events,
    so listeners never miss a deletion that happened while the watch was down.
    """

    def __init__(self, kube: Kube, resource: Resource, field_selector: str | None = None) -> None:
        self.kube = kube
        self.resource = resource
        #: e.g. `spec.nodeName=NAME`: a node agent caches only the pods bound to it.
        self.field_selector = field_selector
        self.cache: dict[Key, Obj] = {}
        self.synced = asyncio.Event()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.cache.get((namespace, name))

    def in_namespace(self, namespace: str) -> list[Obj]:
        return [obj for (ns, _), obj in self.cache.items() if ns == namespace]

    def _emit(self, event_type: str, obj: Obj) -> None:
        for listener in self._listeners:
            try:
                listener(event_type, obj)
            except Exception:
                log.exception("listener failed for %s %s", self.resource.kind, key_of(obj))

    def _replace(self, items: list[Obj]) -> None:
        fresh = {key_of(item): item for item in items}
        for key, old in list(self.cache.items()):
            if key not in fresh:
                del self.cache[key]
                self._emit("DELETED", old)
        for key, obj in fresh.items():
            previous = self.cache.get(key)
            self.cache[key] = obj
            if previous is None:
                self._emit("ADDED", obj)
            elif previous.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._emit("MODIFIED", obj)

    def _apply(self, event: Obj) -> None:
        obj = event.get("object") or {}
        kind = event.get("type")
        if kind == "BOOKMARK" or "metadata" not in obj:
            return
        key = key_of(obj)
        if kind == "DELETED":
            self.cache.pop(key, None)
        else:
            self.cache[key] = obj
        self._emit(str(kind), obj)

    async def run(self) -> None:
        while True:
            try:
                listing = await self.kube.list(self.resource, field_selector=self.field_selector)
                self._replace(list(listing.get("items") or []))
                self.synced.set()
                version = str(listing.get("metadata", {}).get("resourceVersion", "0"))
                async for event in self.kube.watch(self.resource, version, self.field_selector):
                    self._apply(event)
            except KubeError as exc:
                if not exc.gone:
                    log.debug("%s watch ended: %s", self.resource.plural, exc)
            await asyncio.sleep(RETRY_DELAY_SECONDS)
