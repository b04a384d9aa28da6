"""Watch caches ("informers"): list once, then keep a namespace's objects of one kind current by watching.

A steady analysis tick reads the target, the primary, the Services, the HPAs and the tracked configs;
Flagger GETs each of them every tick. Reading them from these caches keeps a tick to its writes (status,
events), which is what the API-requests-per-tick benchmark measures.

Staleness is bounded by the watch latency. The controller's own writes are put into the cache from the
write's response (`remember`), so a tick never reads back an older version of what it just wrote.
A 410 Gone (expired resourceVersion) relists, as client-go's reflector does.

A *selective* cache (Secrets, ConfigMaps) keeps only the objects asked for with `fetch`: the first
`fetch` of a name GETs it and from then on the watch keeps it current (or absent), while every other
object of the kind is dropped as soon as its event is decoded. So the controller holds in memory the
Secrets its Canaries reference, not every Secret of the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from controller.errors import KubeError, NotFoundError, UnavailableError
from controller.kube.api import GoneError, KubeApi, Resource
from controller.kube.backoff import Backoff
from controller.kube.objects import JsonDict

logger = logging.getLogger(__name__)

Key = tuple[str, str]
WaitReporter = Callable[[str, str | None], None]
"""`(what, reason)`: the start is waiting for `what` because of `reason`; `(what, None)`: no longer."""


def _resource_version(obj: JsonDict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _not_older(new: JsonDict, old: JsonDict) -> bool:
    """resourceVersions are opaque, but numeric in practice (etcd revisions); compare them when they are."""
    new_rv, old_rv = _resource_version(new), _resource_version(old)
    if new_rv.isdigit() and old_rv.isdigit():
        return int(new_rv) >= int(old_rv)
    return True


def _key(obj: JsonDict) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class WatchCache:
    """The objects of one resource in one namespace (or all namespaces when `namespace` is empty)."""

    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        namespace: str = "",
        *,
        watch_timeout_seconds: int = 300,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, JsonDict], None] | None = None,
        selective: bool = False,
        keep_managed_fields: bool = False,
    ) -> None:
        """`selective`: keep only what `fetch` asked for (see the module's docstring).
        `keep_managed_fields`: keep `metadata.managedFields` (a third of a typical object, and read only
        from Canaries: who asked for a release); dropped otherwise, as controller-runtime's
        `TransformStripManagedFields` does. An update without the field leaves the server's as it is."""
        self.api = api
        self._strip = not keep_managed_fields
        self._wanted: set[Key] | None = set() if selective else None
        self._fetching: dict[Key, asyncio.Future[JsonDict | None]] = {}
        self._seen_while_fetching: set[Key] = set()
        self.resource = resource
        self.namespace = namespace
        self._objects: dict[Key, JsonDict] = {}
        self._resource_version = ""
        self._watch_timeout = watch_timeout_seconds
        self._clock = clock
        self._last_contact = clock()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[str, JsonDict], None]] = [on_change] if on_change else []
        self.relists = 0

    # --- reading --------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> JsonDict | None:
        return self._objects.get((namespace, name))

    def items(self, namespace: str | None = None) -> list[JsonDict]:
        return [obj for (ns, _), obj in self._objects.items() if namespace is None or ns == namespace]

    def watches(self, namespace: str) -> bool:
        """True when this cache's watch covers `namespace`."""
        return not self.namespace or namespace == self.namespace

    def _kept(self, key: Key) -> bool:
        return self._wanted is None or key in self._wanted

    async def fetch(self, namespace: str, name: str, *, keep: bool = True) -> JsonDict | None:
        """The object, None when it does not exist; from the cache when it is kept there, else one GET.

        In a selective cache `keep` makes the object kept (and watched) from now on; with `keep=False`
        a name nobody asked to keep is read with a GET each time (a rare read, e.g. once per Canary)."""
        key = (namespace, name)
        if not self.watches(namespace):
            return await self._get(namespace, name)
        if self._kept(key):
            return self._objects.get(key)
        if not keep:
            return await self._get(namespace, name)
        pending = self._fetching.get(key)
        if pending is not None:  # another tick asked first: share its GET
            return await asyncio.shield(pending)
        assert self._wanted is not None
        future: asyncio.Future[JsonDict | None] = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        self._seen_while_fetching.discard(key)
        try:
            obj = await self._get(namespace, name)
            self._wanted.add(key)  # the watch keeps it current from now on
            if key in self._seen_while_fetching:  # the watch's word is newer than (or as new as) the GET
                obj = self._objects.get(key)
            elif obj is not None:
                self.remember(obj)
            future.set_result(obj)
            return obj
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: a failure nobody shared is not "never retrieved"
            raise
        finally:
            self._fetching.pop(key, None)
            self._seen_while_fetching.discard(key)

    async def _get(self, namespace: str, name: str) -> JsonDict | None:
        try:
            obj = await self.api.get(self.resource, namespace, name)
        except NotFoundError:
            return None
        obj.setdefault("apiVersion", self.resource.group_version)
        obj.setdefault("kind", self.resource.kind)
        return obj

    def add_listener(self, listener: Callable[[str, JsonDict], None]) -> None:
        """Call `listener(event_type, object)` for every ADDED/MODIFIED/DELETED event (on the loop)."""
        self._listeners.append(listener)

    # --- writing through ------------------------------------------------------------------------

    def remember(self, obj: JsonDict) -> None:
        """Store an object the controller just wrote (the API's response), unless a newer one is cached."""
        key = _key(obj)
        if not self._kept(key):
            return
        cached = self._objects.get(key)
        if cached is None or _not_older(obj, cached):
            self._objects[key] = self._trimmed(obj)

    def _trimmed(self, obj: JsonDict) -> JsonDict:
        if self._strip:
            meta = obj.get("metadata")
            if isinstance(meta, dict) and "managedFields" in meta:
                obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        return obj

    def forget(self, namespace: str, name: str) -> None:
        self._objects.pop((namespace, name), None)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, waiting: WaitReporter | None = None, backoff: Backoff | None = None) -> None:
        """List, then watch in the background.

        While the API server cannot answer (429 while it initializes a new resource's storage, 5xx, a
        refused connection) the list is retried with client-go's back-off, and ``waiting`` hears what is
        awaited (then None once listed); any other error is raised, so a missing CRD or a forbidden list
        fails the start loudly.
        """
        delays = (backoff or Backoff()).delays()
        while True:
            try:
                await self._relist()
                break
            except UnavailableError as error:
                delay = max(next(delays), error.retry_after or 0.0)
                what = f"list {self.resource.plural}: {error}"
                logger.warning("waiting for the API server (%s); retrying in %.1fs", what, delay)
                if waiting is not None:
                    waiting(self.resource.plural, f"{what} (retrying in {delay:.1f}s)")
                await asyncio.sleep(delay)
        if waiting is not None:
            waiting(self.resource.plural, None)
        self._task = asyncio.create_task(self._watch_forever(), name=f"watch {self.resource.plural}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def liveness_problem(self) -> str | None:
        """None while the watch runs and has heard from the server recently."""
        if self._task is None or self._task.done():
            return f"watch of {self.resource.plural} is not running"
        silent = self._clock() - self._last_contact
        if silent > 2 * self._watch_timeout + 60:
            return f"watch of {self.resource.plural} silent for {silent:.0f}s"
        return None

    # --- internals ------------------------------------------------------------------------------

    async def _relist(self) -> None:
        listing = await self.api.list(self.resource, self.namespace)
        objects: dict[Key, JsonDict] = {}
        for item in listing.get("items") or []:
            key = _key(item)
            if not self._kept(key) and key not in self._fetching:
                continue  # a selective cache drops what nobody asked for
            item.setdefault("apiVersion", self.resource.group_version)
            item.setdefault("kind", self.resource.kind)
            if self._strip:
                (item.get("metadata") or {}).pop("managedFields", None)
            objects[key] = item
        self._objects = objects
        self._seen_while_fetching.update(self._fetching)  # the list's word wins over a GET in flight
        self._resource_version = _resource_version(listing)
        self._last_contact = self._clock()
        self.relists += 1

    async def _watch_forever(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._watch_once()
                backoff = 0.2
            except GoneError:
                logger.info("watch of %s expired (410), listing again", self.resource.plural)
                await self._relist_with_retry()
            except KubeError as error:
                logger.warning(
                    "watch of %s failed: %s; retrying in %.1fs", self.resource.plural, error, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # never let the cache die silently: log, back off, watch again
                logger.exception("watch of %s broke; retrying in %.1fs", self.resource.plural, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _relist_with_retry(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._relist()
                return
            except KubeError as error:
                logger.warning("listing %s failed: %s; retrying in %.1fs", self.resource.plural, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _watch_once(self) -> None:
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._watch_timeout),
        }
        if self._resource_version:
            query["resourceVersion"] = self._resource_version
        path = self.resource.path(self.namespace or None)
        async for event in self.api.watch_lines(path, query, self._watch_timeout):
            self._last_contact = self._clock()
            self._apply(event)
        self._last_contact = self._clock()

    def _apply(self, event: dict[str, Any]) -> None:
        event_type = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if event_type == "ERROR":
            if obj.get("code") == 410:
                raise GoneError(str(obj.get("message") or "resourceVersion too old"))
            raise KubeError(str(obj.get("message") or "watch error"))
        resource_version = _resource_version(obj)
        if resource_version:
            self._resource_version = resource_version
        if event_type == "BOOKMARK":
            return
        key = _key(obj)
        if not self._kept(key):
            if key not in self._fetching:
                return  # a selective cache drops what nobody asked for
            self._seen_while_fetching.add(key)
        obj.setdefault("apiVersion", self.resource.group_version)
        obj.setdefault("kind", self.resource.kind)
        if event_type == "DELETED":
            self._objects.pop(key, None)
        elif event_type in ("ADDED", "MODIFIED"):
            cached = self._objects.get(key)
            if cached is None or _not_older(obj, cached):
                if self._strip:
                    (obj.get("metadata") or {}).pop("managedFields", None)
                self._objects[key] = obj
        else:
            return
        for listener in self._listeners:
            try:
                listener(str(event_type), obj)
            except Exception:  # a listener bug must not stop the watch
                logger.exception("watch listener failed for %s", self.resource.plural)
