"""The aiohttp application: Flagger's routes, in Flagger's order of evaluation, plus /tasks.

Routing mirrors Go's `http.ServeMux`: exact paths, any method, and `/` catches every other path
(so `/gate/check/` or `/notfound` are task requests). Paths with `//`, `/./` or `/../` are redirected
(301) to their clean form, as ServeMux does.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from loadtester import logs
from loadtester.auth import BearerToken, NamespaceAuthorizer
from loadtester.gates import GateStore, GateStoreError, InMemoryGateStore, gate_key, rollback_key
from loadtester.metrics import LoadTesterMetrics
from loadtester.payload import Payload, PayloadError, decode_payload, go_bool
from loadtester.process import Spawner
from loadtester.runner import TaskRunner
from loadtester.settings import Settings
from loadtester.tasks import Task, TaskContext, TaskRequestError, new_task

RUNNER = web.AppKey("runner", TaskRunner)
METRICS = web.AppKey("metrics", LoadTesterMetrics)
GATES = web.AppKey("gates", GateStore)
SETTINGS = web.AppKey("settings", Settings)
SPAWNER = web.AppKey("spawner", Spawner)
AUTHORIZER = web.AppKey("authorizer", NamespaceAuthorizer)

UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/metrics"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _text(status: int, body: str | bytes) -> web.Response:
    """Go's answers: text bodies as text/plain; empty bodies with no Content-Type."""
    if not body:
        return web.Response(status=status)
    data = body.encode() if isinstance(body, str) else body
    return web.Response(status=status, body=data, content_type="text/plain", charset="utf-8")


def _forbidden() -> web.Response:
    return _text(403, "Forbidden")


class _Rejected(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


async def _read_payload(request: web.Request) -> Payload:
    """Steps 1-3 of every JSON route: read (400), decode (400), authorize (403)."""
    log = logs.logger()
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise
    except Exception as error:
        log.error("reading the request body failed %s", error)
        raise _Rejected(_text(400, "")) from None
    try:
        payload = decode_payload(body)
    except PayloadError as error:
        log.error("decoding the request body failed %s", error)
        raise _Rejected(_text(400, "")) from None
    if not request.app[AUTHORIZER].allows(payload.namespace):
        raise _Rejected(_forbidden())
    return payload


def _json_route(handler: Callable[[web.Request, Payload], Awaitable[web.Response]]) -> Handler:
    async def route(request: web.Request) -> web.StreamResponse:
        try:
            payload = await _read_payload(request)
        except _Rejected as rejected:
            return rejected.response
        return await handler(request, payload)

    return route


# -- tasks ------------------------------------------------------------------------------------------


async def handle_task(request: web.Request, payload: Payload) -> web.Response:
    metadata = payload.metadata
    if not metadata:
        return _text(400, "metadata not found in payload")
    try:
        task = new_task(payload)
    except TaskRequestError as error:
        return _text(error.status, error.message)
    runner = request.app[RUNNER]
    if task.mode == "queued":
        runner.add(task)
        return _text(202, "")
    # The line is written on the next event-loop pass, while the command runs, rather than before it
    # starts: the spawn is the first thing this request waits for. The runner defers its lines the same
    # way, and call_soon is FIFO, so this one still comes first.
    asyncio.get_running_loop().call_soon(_log_blocking_start, task, payload.name)
    result = await runner.run_blocking(task)
    if not result.ok:
        return _text(500, task.failure_body(result))
    if go_bool(metadata.get("returnCmdOutput")):
        return _text(200, result.output)
    return _text(200, "")


def _log_blocking_start(task: Task, name: str) -> None:
    if task.type == "bash":
        logs.logger().info("bash command %s", task.command, extra={"canary": name})
    else:
        binary = "helmv3" if task.type.startswith("helm") else task.type
        logs.logger().info("running command %s %s", binary, task.command, extra={"canary": task.canary})


task_route = _json_route(handle_task)


# -- gates ------------------------------------------------------------------------------------------


def _check(kind: str, key_of: Callable[[str, str], str]) -> Handler:
    async def check(request: web.Request, payload: Payload) -> web.Response:
        key = key_of(payload.name, payload.namespace)
        try:
            approved = await request.app[GATES].is_open(key)
        except GateStoreError as error:
            logs.logger().error("%s %s check failed: %s", key, kind, error, extra=_canary(payload))
            return _text(503, f"gate store unavailable: {error}")
        request.app[METRICS].gate_checks.labels(kind, "approved" if approved else "denied").inc()
        logs.logger().info(
            "%s %s check: approved %s", key, kind, str(approved).lower(), extra=_canary(payload)
        )
        return _text(200, "Approved") if approved else _forbidden()

    return _json_route(check)


def _set(kind: str, key_of: Callable[[str, str], str], is_open: bool) -> Handler:
    async def set_gate(request: web.Request, payload: Payload) -> web.Response:
        key = key_of(payload.name, payload.namespace)
        try:
            await request.app[GATES].set_open(key, is_open)
        except GateStoreError as error:
            logs.logger().error("%s %s update failed: %s", key, kind, error, extra=_canary(payload))
            return _text(503, f"gate store unavailable: {error}")
        logs.logger().info("%s %s %s", key, kind, "opened" if is_open else "closed", extra=_canary(payload))
        return _text(202, "")

    return _json_route(set_gate)


def _canary(payload: Payload) -> dict[str, str]:
    return {"canary": payload.canary}


async def approve(request: web.Request) -> web.Response:
    return _text(200, "OK")


async def halt(request: web.Request) -> web.Response:
    return _forbidden()


# -- health, metrics, tasks -------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return _text(200, "OK")


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    response = web.Response(status=200, body=body)
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


async def list_tasks(request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return await task_route(request)  # Flagger: /tasks is just another path for the task handler
    body = json.dumps(request.app[RUNNER].snapshot(), indent=2) + "\n"
    return web.Response(status=200, text=body, content_type="application/json")


# -- middlewares ------------------------------------------------------------------------------------


def _clean_path(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


@web.middleware
async def redirect_unclean_paths(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        location = _clean_path(path)
        if request.query_string:
            location += "?" + request.query_string
        return web.Response(status=301, headers={"Location": location})
    return await handler(request)


def bearer_token_middleware(token: BearerToken) -> Middleware:
    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in UNAUTHENTICATED_PATHS or token.accepts(request.headers.get("Authorization")):
            return await handler(request)
        return web.Response(status=401, text="Unauthorized", headers={"WWW-Authenticate": "Bearer"})

    return require_token


# -- factory ----------------------------------------------------------------------------------------


def create_app(settings: Settings, *, gates: GateStore | None = None) -> web.Application:
    """The load tester as an aiohttp application; the runner starts and stops with the app.

    Nothing is started or opened here: the runner starts and the gate store, the spawner's threads and
    the HTTP session are released through the app's lifecycle (`cleanup_ctx`)."""
    middlewares: list[Middleware] = [redirect_unclean_paths]
    if settings.auth_token:
        middlewares.append(bearer_token_middleware(BearerToken(settings.auth_token)))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[SETTINGS] = settings
    app[METRICS] = LoadTesterMetrics()
    app[GATES] = gates if gates is not None else _gate_store(settings)
    app[AUTHORIZER] = NamespaceAuthorizer(settings.namespace_regexp)
    app[SPAWNER] = Spawner()
    context = TaskContext(timeout=settings.timeout, spawner=app[SPAWNER], logger=logs.logger())
    app[RUNNER] = TaskRunner(context, app[METRICS], tick=settings.runner_tick)

    app.router.add_route("*", "/healthz", healthz)
    app.router.add_route("*", "/metrics", metrics)
    app.router.add_route("*", "/tasks", list_tasks)
    app.router.add_route("*", "/gate/approve", approve)
    app.router.add_route("*", "/gate/halt", halt)
    app.router.add_route("*", "/gate/check", _check("gate", gate_key))
    app.router.add_route("*", "/gate/open", _set("gate", gate_key, True))
    app.router.add_route("*", "/gate/close", _set("gate", gate_key, False))
    app.router.add_route("*", "/rollback/check", _check("rollback", rollback_key))
    app.router.add_route("*", "/rollback/open", _set("rollback", rollback_key, True))
    app.router.add_route("*", "/rollback/close", _set("rollback", rollback_key, False))
    app.router.add_route("*", "/{tail:.*}", task_route)

    app.cleanup_ctx.append(_gate_store_lifetime)
    app.cleanup_ctx.append(_runner_lifetime)
    # on_shutdown runs when the server stops listening, *before* in-flight requests get their grace
    # period (cleanup_ctx only after it): from then on no pending task may start, as in Flagger.
    app.on_shutdown.append(_stop_scheduling)
    return app


def _gate_store(settings: Settings) -> GateStore:
    if not settings.gates_configmap:
        return InMemoryGateStore()
    from loadtester.gates_kube import ConfigMapGateStore  # only then pay for kubernetes_asyncio

    return ConfigMapGateStore.from_reference(settings.gates_configmap)


async def _gate_store_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[GATES].close()


async def _runner_lifetime(app: web.Application) -> AsyncIterator[None]:
    runner = app[RUNNER]
    runner.start()
    yield
    await runner.stop_scheduling()  # already stopped at shutdown, unless the app was never served
    killed = await runner.kill_all()
    if killed:
        logs.logger().warning("killed %d process group(s) still running at shutdown", killed)
    app[SPAWNER].close()


async def _stop_scheduling(app: web.Application) -> None:
    logs.logger().info("shutting down the task runner")
    await app[RUNNER].stop_scheduling()
