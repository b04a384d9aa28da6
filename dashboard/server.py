"""`flagman dashboard`'s web server: aiohttp on 127.0.0.1, the user's kubeconfig behind every request.

Pages: ``/`` (every Canary, live), ``/canary/{ns}/{name}`` (one Canary, live, with its current analysis),
``/canary/{ns}/{name}/analysis`` (the analysis panel, re-fetched by the page on each change),
``/canary/{ns}/{name}/report`` (the full report), ``/events`` (Server-Sent Events), ``/api/canaries``.
Actions (``POST /canary/{ns}/{name}/actions/{promote|abort|retry}``) exist only with ``--allow-actions``;
they write the release-control request annotation as the user (docs/release-control.md) and need the
page's per-process token, so another site open in the same browser cannot trigger them. Requests whose
Host is not a loopback name are refused (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from kubernetes_asyncio import client

from controller.api.requests import REQUEST_ANNOTATION, Action
from dashboard.history import HistoryFormatError
from dashboard.kube import ClusterError, read_history
from dashboard.live import CanaryFeed
from dashboard.pages import analysis_fragment, canary_page, index_page
from dashboard.report import render_html
from kubectl_flagman.actions import new_request
from kubectl_flagman.cluster import Cluster
from kubectl_flagman.errors import PluginError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
HEARTBEAT_SECONDS = 15.0


@dataclass
class Dashboard:
    api: client.ApiClient
    feed: CanaryFeed
    cluster: Cluster | None  # None: read-only
    scope: str
    token: str = ""

    def __post_init__(self) -> None:
        self.token = self.token or secrets.token_urlsafe(24)


DASHBOARD = web.AppKey("dashboard", Dashboard)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith("[") else "[::1]"
    if host not in LOOPBACK_HOSTS:
        raise web.HTTPForbidden(text="the dashboard answers only on loopback names\n")
    return await handler(request)


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=index_page(request.app[DASHBOARD].scope), content_type="text/html")


async def _canaries(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    return web.json_response({"canaries": sorted(dashboard.feed.summaries.values(), key=lambda s: s["key"])})


async def _events(request: web.Request) -> web.StreamResponse:
    feed = request.app[DASHBOARD].feed
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)

    async def send(kind: str, data: object) -> None:
        await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

    with contextlib.suppress(ConnectionResetError):  # the tab was closed
        await _stream(feed, send, response)
    return response


async def _stream(
    feed: CanaryFeed, send: Callable[[str, object], Awaitable[None]], response: web.StreamResponse
) -> None:
    async with feed.subscribe() as queue:
        if feed.error:
            await send("error", {"message": feed.error})
        for summary in sorted(feed.summaries.values(), key=lambda s: s["key"]):
            await send("canary", summary)
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await send(kind, data)


async def _canary(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    page = canary_page(namespace, name, allow_actions=dashboard.cluster is not None, token=dashboard.token)
    return web.Response(text=page, content_type="text/html")


async def _analysis(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    try:
        history = await read_history(request.app[DASHBOARD].api, namespace, name)
        return web.Response(text=analysis_fragment(history.run()), content_type="text/html")
    except (ClusterError, HistoryFormatError) as error:
        return web.Response(text=analysis_fragment(None, str(error)), content_type="text/html")


async def _report(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    try:
        history = await read_history(request.app[DASHBOARD].api, namespace, name)
        return web.Response(text=render_html(history, history.run()), content_type="text/html")
    except (ClusterError, HistoryFormatError) as error:
        raise web.HTTPNotFound(text=f"{error}\n") from error


async def _action(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    if dashboard.cluster is None:
        raise web.HTTPForbidden(text="read-only: start flagman dashboard --allow-actions\n")
    if not secrets.compare_digest(request.headers.get("X-Flagman-Token", ""), dashboard.token):
        raise web.HTTPForbidden(text="missing or wrong X-Flagman-Token\n")
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        raise web.HTTPNotFound(text="actions: promote, abort, retry\n") from None
    try:
        body = await dashboard.cluster.canary(name, namespace)
        made = new_request(action, body, await dashboard.cluster.whoami())
        await dashboard.cluster.annotate(body, {REQUEST_ANNOTATION: made.to_annotation()})
    except PluginError as error:
        return web.json_response({"ok": False, "message": str(error)}, status=409)
    message = (
        f"{action.value} requested for {name}.{namespace} at revision {made.revision} (request {made.id})"
    )
    return web.json_response({"ok": True, "message": message, "request": made.id})


def create_app(dashboard: Dashboard) -> web.Application:
    app = web.Application(middlewares=[_loopback_only])
    app[DASHBOARD] = dashboard
    app.router.add_get("/", _index)
    app.router.add_get("/api/canaries", _canaries)
    app.router.add_get("/events", _events)
    app.router.add_get("/canary/{namespace}/{name}", _canary)
    app.router.add_get("/canary/{namespace}/{name}/analysis", _analysis)
    app.router.add_get("/canary/{namespace}/{name}/report", _report)
    app.router.add_post("/canary/{namespace}/{name}/actions/{action}", _action)
    return app
