"""The Canaries across namespaces, kept current by a watch and fanned out to Server-Sent-Event clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from dashboard.summary import summarize

logger = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "flagger.app", "v1beta1", "canaries"
WATCH_SECONDS = 240
RETRY_SECONDS = 2.0

Change = tuple[str, dict[str, Any]]
"""``("canary", summary)`` or ``("deleted", {"key": ...})`` or ``("error", {"message": ...})``."""


class CanaryFeed:
    """List, then watch, Canaries (one namespace or all); every subscriber gets every change."""

    def __init__(self, api: client.ApiClient, namespace: str | None = None) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._namespace = namespace
        self.summaries: dict[str, dict[str, Any]] = {}
        self.error = ""
        self.synced = asyncio.Event()
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck browser tab misses changes, nothing more
                queue.put_nowait(change)

    def _list_call(self) -> Any:
        if self._namespace:
            return self._custom.list_namespaced_custom_object
        return self._custom.list_cluster_custom_object

    def _args(self) -> tuple[str, ...]:
        if self._namespace:
            return (GROUP, VERSION, self._namespace, PLURAL)
        return (GROUP, VERSION, PLURAL)

    async def _run(self) -> None:
        while True:
            try:
                version = await self._relist()
                await self._watch(version)
            except ApiException as error:
                self._fail(f"cannot list or watch canaries: {error.status} {error.reason}")
                await asyncio.sleep(RETRY_SECONDS)
            except (TimeoutError, OSError) as error:
                self._fail(f"cannot reach the API server: {error}")
                await asyncio.sleep(RETRY_SECONDS)

    def _fail(self, message: str) -> None:
        if message != self.error:
            logger.warning("%s", message)
            self.error = message
            self._publish(("error", {"message": message}))

    async def _relist(self) -> str:
        listing = await self._list_call()(*self._args())
        seen = {}
        for item in listing.get("items") or []:
            summary = summarize(item)
            seen[summary["key"]] = summary
        for key in set(self.summaries) - set(seen):
            self._publish(("deleted", {"key": key}))
        for key, summary in seen.items():
            if self.summaries.get(key) != summary:
                self._publish(("canary", summary))
        self.summaries = seen
        if self.error:
            self.error = ""
            self._publish(("error", {"message": ""}))
        self.synced.set()
        return str((listing.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> None:
        stream = watch.Watch()
        async with stream:
            async for event in stream.stream(
                self._list_call(), *self._args(), resource_version=version, timeout_seconds=WATCH_SECONDS
            ):
                kind, body = event.get("type"), event.get("object")
                if not isinstance(body, dict):
                    continue
                summary = summarize(body)
                if kind == "DELETED":
                    self.summaries.pop(summary["key"], None)
                    self._publish(("deleted", {"key": summary["key"]}))
                elif kind in ("ADDED", "MODIFIED"):
                    self.summaries[summary["key"]] = summary
                    self._publish(("canary", summary))
