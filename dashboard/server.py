"""`flagman dashboard`'s web server: aiohttp on 127.0.0.1, the user's kubeconfig behind every request.

Pages: ``/`` (every Canary, live), ``/canary/{ns}/{name}`` (one Canary, live, with its current analysis),
``/canary/{ns}/{name}/analysis[?run=N]`` (the analysis panel with the run picker, re-fetched by the page
on each change), ``/canary/{ns}/{name}/report[?run=N][&format=png|svg]`` (the full report, or the run as
one image), ``/events`` (Server-Sent Events), ``/api/canaries``.
Actions (``POST /canary/{ns}/{name}/actions/{promote|abort|retry|pause|resume}``) exist only with
``--allow-actions``; they write the release-control annotations as the user with the plugin's own code
(docs/release-control.md) and need the page's per-process token, so another site open in the same
browser cannot trigger them. Requests whose Host is not a loopback name are refused (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from kubernetes_asyncio import client

from controller.api.requests import Action
from dashboard.history import History, HistoryFormatError, Run
from dashboard.kube import ClusterError, read_history
from dashboard.live import CanaryFeed
from dashboard.pages import ACTIONS, analysis_fragment, canary_page, index_page
from dashboard.plots import IMAGE_FORMATS, run_image
from dashboard.report import render_html
from kubectl_flagman.actions import write_pause, write_request, write_resume
from kubectl_flagman.cluster import Cluster
from kubectl_flagman.errors import ConflictError, PluginError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
HEARTBEAT_SECONDS = 15.0
CONFLICT_ATTEMPTS = 5


@dataclass
class Dashboard:
    api: client.ApiClient
    feed: CanaryFeed
    cluster: Cluster | None  # None: read-only
    scope: str
    token: str = ""
    # Plots take a second or more on a busy machine: drawn on one thread of their own (matplotlib's
    # settings are global, so one at a time), the event loop keeps serving the live feed and the actions
    # (whose read-then-write of the Canary must not straddle a drawing).
    plotter: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="flagman-plots")
    )

    def __post_init__(self) -> None:
        self.token = self.token or secrets.token_urlsafe(24)

    async def draw(self, render: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.plotter, render)

    def close(self) -> None:
        self.plotter.shutdown(wait=False, cancel_futures=True)


T = TypeVar("T")
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


def _run_number(request: web.Request) -> int | None:
    text = request.query.get("run", "")
    if not text:
        return None
    if not text.isdigit():
        raise web.HTTPBadRequest(text=f"run must be a run number, not {text!r}\n")
    return int(text)


async def _history_run(request: web.Request) -> tuple[History, Run]:
    """The Canary's history and the run the query asks for (the latest by default)."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    number = _run_number(request)
    history = await read_history(request.app[DASHBOARD].api, namespace, name)
    return history, history.run(number)


async def _analysis(request: web.Request) -> web.Response:
    base = f"/canary/{request.match_info['namespace']}/{request.match_info['name']}"
    try:
        history, run = await _history_run(request)
        follow = _run_number(request) is None
        page = await request.app[DASHBOARD].draw(
            lambda: analysis_fragment(history, run, follow=follow, base=base)
        )
    except (ClusterError, HistoryFormatError) as error:
        page = analysis_fragment(None, None, str(error))
    return web.Response(text=page, content_type="text/html")


async def _report(request: web.Request) -> web.Response:
    kind = request.query.get("format", "html")
    if kind not in ("html", *IMAGE_FORMATS):
        raise web.HTTPBadRequest(text=f"format must be html, png or svg, not {kind!r}\n")
    try:
        history, run = await _history_run(request)
    except (ClusterError, HistoryFormatError) as error:
        raise web.HTTPNotFound(text=f"{error}\n") from error
    draw = request.app[DASHBOARD].draw
    if kind == "html":
        return web.Response(text=await draw(lambda: render_html(history, run)), content_type="text/html")
    content_type = "image/png" if kind == "png" else "image/svg+xml"
    return web.Response(body=await draw(lambda: run_image(history, run, kind)), content_type=content_type)


async def _act(cluster: Cluster, verb: str, body: dict[str, object]) -> dict[str, object]:
    """One action with the plugin's code (kubectl_flagman.actions), as the user; the answer to show."""
    if verb == "pause":
        return {"ok": True, "message": await write_pause(cluster, body)}
    if verb == "resume":
        message, warning = await write_resume(cluster, body)
        return {"ok": True, "message": f"{message} (warning: {warning})" if warning else message}
    made = await write_request(cluster, Action(verb), body)
    metadata: Any = body.get("metadata") or {}
    message = (
        f"{verb} requested for {metadata.get('name')}.{metadata.get('namespace')} at revision"
        f" {made.revision} (request {made.id})"
    )
    return {"ok": True, "message": message, "request": made.id}


async def _action(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    if dashboard.cluster is None:
        raise web.HTTPForbidden(text="read-only: start flagman dashboard --allow-actions\n")
    if not secrets.compare_digest(request.headers.get("X-Flagman-Token", ""), dashboard.token):
        raise web.HTTPForbidden(text="missing or wrong X-Flagman-Token\n")
    namespace, name, verb = (request.match_info[key] for key in ("namespace", "name", "action"))
    if verb not in ACTIONS:
        raise web.HTTPNotFound(text=f"actions: {', '.join(ACTIONS)}\n")
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            answer = await _act(dashboard.cluster, verb, await dashboard.cluster.canary(name, namespace))
        except ConflictError as error:
            # The status changed between the read and the write (each analysis step writes it): what
            # the user would do is click again, which reads the Canary again; so do it for them.
            if attempt == CONFLICT_ATTEMPTS:
                return web.json_response({"ok": False, "message": str(error)}, status=409)
        except PluginError as error:
            return web.json_response({"ok": False, "message": str(error)}, status=409)
        else:
            return web.json_response(answer)
    raise AssertionError("unreachable")


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
