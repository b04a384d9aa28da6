"""Watch streams: one JSON event per line over a chunked 200 response.

Semantics (kube-apiserver's): no ``resourceVersion`` or ``"0"`` starts with synthetic ADDED events for
the current state; ``resourceVersion=N`` replays history after N, or answers one ERROR 410 event if N
was compacted away; ``allowWatchBookmarks`` adds periodic BOOKMARKs (one just before the timeout too);
``sendInitialEvents=true`` (WatchList, used by helm 4 and client-go) ends the initial ADDED events
with a BOOKMARK annotated ``k8s.io/initial-events-end``; ``timeoutSeconds`` closes the stream cleanly.
A watch asking for a Table gets each object wrapped in a one-row Table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import tables
from .errors import ApiError
from .keys import ServerConfig
from .meta import parse_bool
from .registry import ResourceType
from .selectors import Selection
from .store import Watcher, WatchEvent

if TYPE_CHECKING:
    from .cluster import Cluster

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _expired(rv: int, oldest: int) -> dict[str, Any]:
    return ApiError(410, "Expired", f"too old resource version: {rv} ({oldest})").to_status()


class _Encoder:
    """Serializes events for one stream (plain objects or Table rows)."""

    def __init__(self, cluster: Cluster, rt: ResourceType, as_table: bool) -> None:
        self.cluster, self.rt, self.as_table = cluster, rt, as_table
        self.first = True

    def cached_event(self, event: WatchEvent) -> bytes:
        """Plain-JSON watchers of one group/version share the encoding of an event."""
        if self.as_table:
            return self.event(event.type, event.obj)
        key = self.rt.api_version
        line = event.encoded.get(key)
        if line is None:
            line = event.encoded[key] = self.event(event.type, event.obj)
        return line

    def event(self, event_type: str, obj: dict[str, Any]) -> bytes:
        shown = self.cluster.present(self.rt, obj)
        if self.as_table:
            shown = tables.table(
                self.rt,
                [shown],
                obj["metadata"].get("resourceVersion", ""),
                with_columns=self.first,
            )
            self.first = False
        return json.dumps({"type": event_type, "object": shown}, separators=(",", ":")).encode() + b"\n"

    def bookmark(self, rv: int, initial_events_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": metadata}
        return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(
    request: web.Request, cluster: Cluster, rt: ResourceType, selection: Selection, config: ServerConfig
) -> web.StreamResponse:
    query = request.query
    rv_param = query.get("resourceVersion", "")
    bookmarks = parse_bool(query.get("allowWatchBookmarks"), "allowWatchBookmarks")
    send_initial = query.get("sendInitialEvents")
    initial_events = parse_bool(send_initial, "sendInitialEvents") if send_initial is not None else None
    if initial_events is not None and (query.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks):
        raise ApiError(
            422,
            "Invalid",
            'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is '
            "forbidden for watch unless resourceVersionMatch is NotOlderThan and allowWatchBookmarks is true",
        )
    timeout = config.default_watch_timeout
    if query.get("timeoutSeconds"):
        try:
            timeout = float(query["timeoutSeconds"])
        except ValueError:
            raise ApiError(
                400, "BadRequest", f"invalid timeoutSeconds: {query['timeoutSeconds']!r}"
            ) from None
    since: int | None = None
    if rv_param not in ("", "0") and not initial_events:
        try:
            since = int(rv_param)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param!r}") from None

    store = cluster.store
    encoder = _Encoder(cluster, rt, tables.wants_table(request.headers.get("Accept", "")))
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()

    if since is not None and store.is_too_old(since):
        await response.prepare(request)
        line = json.dumps({"type": "ERROR", "object": _expired(since, store.compacted_rv)}).encode() + b"\n"
        await response.write(line)
        await response.write_eof()
        return response

    # Opening the watch and taking the snapshot happen without an await in between: no gap, no overlap.
    watcher = store.open_watch(rt.storage_key, selection)
    try:
        if since is None:
            initial: list[WatchEvent] = [
                WatchEvent(0, rt.storage_key, "ADDED", obj) for obj in store.items(rt.storage_key, selection)
            ]
        else:
            initial = store.replay(rt.storage_key, since, watcher)
        snapshot_rv = store.rv
        await response.prepare(request)
        chunk = b"".join(encoder.event(e.type, e.obj) for e in initial)
        if initial_events:
            chunk += encoder.bookmark(snapshot_rv, initial_events_end=True)
        if chunk:
            await response.write(chunk)
        await _stream(
            response,
            watcher,
            encoder,
            store_rv=lambda: store.rv,
            duration=timeout,
            bookmarks=bookmarks,
            bookmark_interval=config.bookmark_interval,
        )
    except ConnectionError:
        pass  # the client went away
    finally:
        store.close_watch(watcher)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


async def _stream(
    response: web.StreamResponse,
    watcher: Watcher,
    encoder: _Encoder,
    store_rv: Any,
    duration: float,
    bookmarks: bool,
    bookmark_interval: float,
) -> None:
    """Send the watcher's events as they come and a bookmark after each ``bookmark_interval`` without any,
    until the timeout (with a last bookmark) or a drop.

    One timer per stream wakes it for a bookmark or the end. It is set again only after it has fired, so
    an event costs no timer: a stream woken early by its timer finds the bookmark not due and sets it anew.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    idle_since = loop.time()
    timer: asyncio.TimerHandle | None = None
    timer_armed = False

    def ring() -> None:
        nonlocal timer_armed
        timer_armed = False
        watcher.wake()

    try:
        while True:
            now = loop.time()
            if now >= deadline:
                if bookmarks:
                    await response.write(encoder.bookmark(store_rv()))
                return
            if watcher.pending:
                chunk = []
                dropped = False
                while watcher.pending:
                    event = watcher.pending.popleft()
                    if event is None:
                        dropped = True
                        break
                    chunk.append(encoder.cached_event(event))
                if chunk:
                    await response.write(b"".join(chunk))
                if dropped:
                    return  # dropped by fault injection
                idle_since = loop.time()
                continue
            if bookmarks and now >= idle_since + bookmark_interval:
                await response.write(encoder.bookmark(store_rv()))
                idle_since = loop.time()
                continue
            if not timer_armed:  # the due time only moves later, so an armed timer is never late
                due = min(deadline, idle_since + bookmark_interval) if bookmarks else deadline
                timer, timer_armed = loop.call_at(due, ring), True
            await watcher.wait()
    finally:
        if timer is not None:
            timer.cancel()
