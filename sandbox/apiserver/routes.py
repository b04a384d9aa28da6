"""The HTTP surface: URL grammar, query parameters, content negotiation, and the resource verbs.

URL grammar (kube-apiserver's): ``/api/v1/{plural}``, ``/api/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]]``,
``/apis/{group}/{version}/...`` with the same shape, cluster-scoped ``.../{plural}/{name}[/{sub}]``.
``/api/v1/namespaces/{name}/status|finalize`` are Namespace subresources, and the deprecated
``.../watch/...`` prefix turns a list into a watch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import discovery, tables
from .bodies import decode, media_type
from .cluster import (
    DELETE_RETURNS_OBJECT,
    Cluster,
    DeleteOptions,
    WriteOptions,
    decode_continue,
    encode_continue,
)
from .errors import ApiError
from .exec import ExecOptions, refuse_other_protocols, serve_exec
from .faults import RequestRecord
from .keys import (
    CLUSTER,
    CONFIG,
    FAULT,
    FAULTS,
    POD_LOGS,
    REQUEST_LOG,
    RESOURCE,
    RUNTIME_HOOKS,
    VERB,
    WRITE_OPTIONS,
    LogFollower,
)
from .meta import parse_bool
from .patching import APPLY_PATCH, patch_object
from .registry import ResourceType, not_found_path
from .selectors import FieldSelector, LabelSelector, Selection
from .watch import serve_watch

#: How often a followed log is checked for new lines, for the client's disconnect and for the pod's end.
LOG_FOLLOW_POLL_SECONDS = 0.2


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


# -- middleware ------------------------------------------------------------------------------
@web.middleware
async def observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Status errors, the request log, and the 500 safety net, for every request."""
    started = time.perf_counter()
    log = request.app[REQUEST_LOG]
    # Read up front only when recording: the handler's own read() then returns the cached bytes.
    body = await request.read() if log.capture_bodies and request.body_exists else None
    response: web.StreamResponse | None = None
    status = 500
    try:
        response = await _answer(request, handler)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        status = 499
        raise
    finally:
        duration = time.perf_counter() - started
        log.append(_record(request, response, status, duration, body, log.capture_bodies))


async def _answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The handler's response, or the Status kube-apiserver would answer for what it raised."""
    try:
        response = await handler(request)
        options = request.get(WRITE_OPTIONS)
        if options is not None and options.warnings and not response.prepared:
            for warning in dict.fromkeys(options.warnings):
                escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
                response.headers.add("Warning", f'299 - "{escaped}"')
        return response
    except ApiError as error:
        return json_response(error.to_status(), error.code)
    except web.HTTPException as exc:
        if exc.status == 404:
            return json_response(not_found_path().to_status(), 404)
        if exc.status == 405:
            refused = ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
            return json_response(refused.to_status(), 405)
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug must still answer a Status, not a traceback page
        request.app.logger.exception("internal error on %s %s", request.method, request.path_qs)
        internal = ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")
        return json_response(internal.to_status(), 500)


def _record(
    request: web.Request,
    response: web.StreamResponse | None,
    status: int,
    duration: float,
    body: bytes | None,
    with_bodies: bool,
) -> RequestRecord:
    headers = request.headers
    answer: bytes | None = None
    if with_bodies and isinstance(response, web.Response) and isinstance(response.body, bytes):
        answer = response.body  # streamed answers (watch, logs -f, exec) keep none
    return RequestRecord(
        request.method,
        request.path,
        request.query_string,
        status,
        duration,
        request.get(VERB, ""),
        request.get(RESOURCE, ""),
        headers.get("User-Agent", ""),
        content_type=headers.get("Content-Type", ""),
        accept=headers.get("Accept", ""),
        body=body,
        response_content_type=response.headers.get("Content-Type", "") if response is not None else "",
        response_body=answer,
        warnings=tuple(response.headers.getall("Warning", ())) if response is not None else (),
        fault=request.get(FAULT, False),
    )


# -- discovery -------------------------------------------------------------------------------
async def get_version(request: web.Request) -> web.Response:
    return json_response(discovery.version(request.app[CONFIG].minor))


async def get_api(request: web.Request) -> web.Response:
    version = discovery.aggregated_version(request.headers.get("Accept", ""))
    if version is not None:
        return aggregated_response(
            discovery.aggregated(request.app[CLUSTER].registry, True, version), version
        )
    return json_response(discovery.core_versions())


async def get_apis(request: web.Request) -> web.Response:
    version = discovery.aggregated_version(request.headers.get("Accept", ""))
    if version is not None:
        return aggregated_response(
            discovery.aggregated(request.app[CLUSTER].registry, False, version), version
        )
    return json_response(discovery.group_list(request.app[CLUSTER].registry))


def aggregated_response(body: dict[str, Any], version: str) -> web.Response:
    response = web.Response(body=dumps(body))
    response.headers["Content-Type"] = discovery.aggregated_content_type(version)
    return response


async def get_group(request: web.Request) -> web.Response:
    found = discovery.group(request.app[CLUSTER].registry, request.match_info["group"])
    if found is None:
        raise not_found_path()
    return json_response(found)


async def get_core_resources(request: web.Request) -> web.Response:
    found = discovery.resource_list(request.app[CLUSTER].registry, "", request.match_info["version"])
    if found is None:
        raise not_found_path()
    return json_response(found)


async def get_group_resources(request: web.Request) -> web.Response:
    registry = request.app[CLUSTER].registry
    found = discovery.resource_list(registry, request.match_info["group"], request.match_info["version"])
    if found is None:
        raise not_found_path()
    return json_response(found)


async def get_openapi_root(request: web.Request) -> web.Response:
    return json_response(discovery.openapi_root(request.app[CLUSTER].registry))


async def get_openapi_group_version(request: web.Request) -> web.Response:
    parts = request.match_info["tail"].strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        group_name, version_name = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        group_name, version_name = parts[1], parts[2]
    else:
        raise not_found_path()
    document = discovery.openapi_group_version(request.app[CLUSTER].registry, group_name, version_name)
    if document is None:
        raise not_found_path()
    return json_response(document)


async def not_found_handler(request: web.Request) -> web.Response:
    raise not_found_path()


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


# -- resources -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str
    watch_prefix: bool


def parse_target(cluster: Cluster, group: str, version: str, rest: list[str]) -> Target:
    watch_prefix = False
    if rest and rest[0] == "watch":
        watch_prefix, rest = True, rest[1:]
    namespace: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise not_found_path()
    rt = cluster.registry.lookup(group, version, rest[0])
    if namespace is not None and not rt.namespaced:
        raise not_found_path()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource:
        allowed = set(rt.extra_subresources)
        if rt.has_status:
            allowed.add("status")
        if rt.scale is not None:
            allowed.add("scale")
        if subresource not in allowed:
            raise not_found_path()
    return Target(rt, namespace, name, subresource, watch_prefix)


def verb_of(method: str, target: Target, query: Any) -> str:
    if method == "GET":
        if target.name is None:
            return "watch" if target.watch_prefix or parse_bool(query.get("watch"), "watch") else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def write_options(request: web.Request) -> WriteOptions:
    query = request.query
    manager = query.get("fieldManager") or request.headers.get("User-Agent", "unknown").split("/", 1)[0]
    if len(manager) > 128:
        raise ApiError(400, "BadRequest", "fieldManager: Too long: may not be longer than 128")
    dry_run = query.getall("dryRun", [])
    for value in dry_run:
        if value != "All":
            raise ApiError(
                400, "BadRequest", f'dryRun: Unsupported value: {value!r}: supported values: "All"'
            )
    options = WriteOptions(
        manager=manager,
        dry_run=bool(dry_run),
        field_validation=query.get("fieldValidation", "Warn"),
        force=parse_bool(query.get("force"), "force"),
        manager_given=bool(query.get("fieldManager")),
    )
    request[WRITE_OPTIONS] = options
    return options


def selection_of(target: Target, query: Any) -> Selection:
    rt = target.rt
    return Selection(
        namespace=target.namespace if rt.namespaced else None,
        labels=LabelSelector.parse(query.get("labelSelector")),
        fields=FieldSelector.parse(query.get("fieldSelector"), rt.kind, rt.selectable_fields),
    )


async def handle_resource(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    info = request.match_info
    group = info.get("group", "")
    version = info["version"]
    target = parse_target(cluster, group, version, [p for p in info["tail"].split("/") if p])
    query = request.query
    verb = verb_of(request.method, target, query)
    resource = f"{target.rt.plural}/{target.subresource}" if target.subresource else target.rt.plural
    request[VERB], request[RESOURCE] = verb, resource
    if verb not in target.rt.verbs and not target.subresource:
        raise ApiError(405, "MethodNotAllowed", f"{verb} is not allowed on {target.rt.group_resource}")
    latency, error = request.app[FAULTS].take(verb, target.rt.plural, target.namespace, target.name)
    if latency:
        await asyncio.sleep(latency)
    if error is not None:
        request[FAULT] = True
        if verb == "watch" and error.code == 410:
            return await expired_watch(request, error)  # a real 410 arrives inside a 200 watch stream
        raise error
    if verb == "watch":
        return await serve_watch(
            request, cluster, target.rt, selection_of(target, query), request.app[CONFIG]
        )
    if verb == "list":
        return list_objects(request, cluster, target)
    if verb == "get":
        return await get_object(request, cluster, target)
    if verb == "deletecollection":
        return delete_collection(request, cluster, target)
    raw = await request.read()
    if target.rt.kind == "SelfSubjectAccessReview" and verb == "create":
        # Only the answer matters; kubectl >= 1.32 sends this kind as protobuf, which is not decoded.
        json_body = media_type(request.headers.get("Content-Type")) in ("", "application/json")
        return json_response(access_review(decode(raw, None) if json_body else {}), 201)
    body = decode(raw, request.headers.get("Content-Type"))
    if verb == "create":
        if target.name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST is not supported on a named resource")
        options = write_options(request)
        created = cluster.create(target.rt, target.namespace, body, options)
        return json_response(cluster.present(target.rt, created), 201)
    assert target.name is not None
    if verb == "update":
        return update_object(request, cluster, target, body)
    if verb == "patch":
        return patch(request, cluster, target, body)
    return delete_object(request, cluster, target, body)


def access_review(body: Any) -> dict[str, Any]:
    """``kubectl auth can-i``: the sandbox has no authorization, so everything is allowed (not stored)."""
    review = dict(body) if isinstance(body, dict) else {}
    review.update(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview")
    review["status"] = {"allowed": True, "reason": "the sandbox API server does not authorize requests"}
    return review


async def expired_watch(request: web.Request, error: ApiError) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(dumps({"type": "ERROR", "object": error.to_status()}) + b"\n")
    await response.write_eof()
    return response


def list_objects(request: web.Request, cluster: Cluster, target: Target) -> web.Response:
    rt, query = target.rt, request.query
    selection = selection_of(target, query)
    objects = cluster.list(rt, selection)
    list_rv = cluster.store.rv
    token = query.get("continue")
    if token:
        token_rv, start = decode_continue(token)
        if cluster.store.is_too_old(token_rv):
            raise ApiError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter.",
            )
        list_rv = token_rv
        objects = [o for o in objects if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
    next_token = ""
    remaining = 0
    limit = query.get("limit")
    if limit:
        try:
            count = int(limit)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid limit: {limit!r}") from None
        if 0 < count < len(objects):
            remaining = len(objects) - count
            objects = objects[:count]
            last = objects[-1]["metadata"]
            next_token = encode_continue(list_rv, (last.get("namespace", ""), last["name"]))
    shown = [cluster.present(rt, o) for o in objects]
    if tables.wants_table(request.headers.get("Accept", "")):
        return json_response(
            tables.table(rt, shown, str(list_rv), next_token, query.get("includeObject", "Metadata"))
        )
    metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
    if next_token:
        metadata["continue"] = next_token
        metadata["remainingItemCount"] = remaining
    return json_response(
        {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": metadata, "items": shown}
    )


async def get_object(request: web.Request, cluster: Cluster, target: Target) -> web.StreamResponse:
    assert target.name is not None
    rt = target.rt
    obj = cluster.get(rt, target.namespace, target.name)
    if target.subresource == "scale":
        return json_response(cluster.scale_of(rt, obj))
    if target.subresource == "log":
        return await pod_log(request, obj)
    shown = cluster.present(rt, obj)
    if tables.wants_table(request.headers.get("Accept", "")) and not target.subresource:
        return json_response(
            tables.table(
                rt,
                [shown],
                obj["metadata"].get("resourceVersion", ""),
                "",
                request.query.get("includeObject", "Metadata"),
            )
        )
    return json_response(shown)


def pod_container(pod: dict[str, Any], container: str | None) -> str:
    """The container a log or exec request means: the given one, or the only one (kube-apiserver's errors)."""
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if container is None:
        if len(containers) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]",
            )
        return str(containers[0])
    if container not in containers:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    return container


async def pod_log(request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    container = pod_container(pod, request.query.get("container"))
    follow = request.app[RUNTIME_HOOKS].log_follow
    if follow is not None and parse_bool(request.query.get("follow"), "follow"):
        return await follow_pod_log(request, pod, container, follow(pod, container, dict(request.query)))
    source = request.app[POD_LOGS]
    text = await source(pod, container, dict(request.query)) if source is not None else ""
    return web.Response(text=text, content_type="text/plain")


async def follow_pod_log(
    request: web.Request, pod: dict[str, Any], container: str, follower: LogFollower
) -> web.StreamResponse:
    """Stream the log as it grows until the client leaves, the pod is deleted or its container terminates."""
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    try:
        while True:
            data = await follower.read_new()
            if data:
                await response.write(data)
            elif _log_ended(request, pod, container):
                break
            if request.transport is None or request.transport.is_closing():
                return response
            await asyncio.sleep(LOG_FOLLOW_POLL_SECONDS)
        await response.write_eof()
    except ConnectionError:
        pass
    return response


def _log_ended(request: web.Request, pod: dict[str, Any], container: str) -> bool:
    """True once the pod is gone (or replaced) or its container has terminated: the kubelet ends there."""
    cluster = request.app[CLUSTER]
    meta = pod["metadata"]
    try:
        current = cluster.get(cluster.registry.lookup("", "v1", "pods"), meta.get("namespace"), meta["name"])
    except ApiError:
        return True
    if current["metadata"].get("uid") != meta.get("uid"):
        return True
    statuses = (current.get("status") or {}).get("containerStatuses") or []
    state = next((s.get("state") or {} for s in statuses if s.get("name") == container), {})
    return "terminated" in state


async def pod_exec(request: web.Request) -> web.StreamResponse:
    """``pods/exec``: every refusal happens before the WebSocket upgrade (see :mod:`.exec`)."""
    request[VERB], request[RESOURCE] = "create" if request.method == "POST" else "get", "pods/exec"
    cluster = request.app[CLUSTER]
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pod = cluster.get(cluster.registry.lookup("", "v1", "pods"), namespace, name)
    options = ExecOptions.from_query(request.query)
    container = pod_container(pod, options.container)
    backend = request.app[RUNTIME_HOOKS].exec
    if backend is None:
        raise ApiError(
            503,
            "ServiceUnavailable",
            "pods/exec needs the sandbox pod runtime, and this API server runs without one "
            "(`flagman sandbox up` runs both)",
        )
    try:
        backend.check(namespace, name, str(pod["metadata"].get("uid", "")), container)
    except LookupError as exc:
        raise ApiError(404, "NotFound", exc.args[0] if exc.args else str(exc)) from None
    refuse_other_protocols(request)
    return await serve_exec(request, backend, namespace, name, container, options)


def update_object(request: web.Request, cluster: Cluster, target: Target, body: Any) -> web.Response:
    assert target.name is not None
    rt, options = target.rt, write_options(request)
    if target.subresource == "scale":
        updated = cluster.apply_scale(rt, target.namespace, target.name, body, options)
        return json_response(cluster.scale_of(rt, updated))
    updated = cluster.update(rt, target.namespace, target.name, body, options, subresource=target.subresource)
    return json_response(cluster.present(rt, updated))


def patch(request: web.Request, cluster: Cluster, target: Target, body: Any) -> web.Response:
    assert target.name is not None
    patch_type = media_type(request.headers.get("Content-Type"))
    if patch_type == "application/apply-patch+cbor":
        raise ApiError(415, "UnsupportedMediaType", "CBOR apply patches are not supported; send YAML or JSON")
    if body is None:
        raise ApiError(400, "BadRequest", "the body of the request was empty")
    options = write_options(request)
    result, created = patch_object(
        cluster, target.rt, target.namespace, target.name, patch_type, body, options, target.subresource
    )
    if target.subresource == "scale":
        return json_response(result)
    return json_response(
        cluster.present(target.rt, result), 201 if created and patch_type == APPLY_PATCH else 200
    )


def _delete_options(request: web.Request, body: Any) -> DeleteOptions:
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "DeleteOptions must be an object")
    dry_run = request.query.getall("dryRun", [])
    return DeleteOptions.from_body(body or {}, dict(request.query), "All" in dry_run)


def _deleted_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata", {})
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": metadata.get("name", ""),
            "group": rt.group,
            "kind": rt.plural,
            "uid": metadata.get("uid"),
        },
    }


def delete_object(request: web.Request, cluster: Cluster, target: Target, body: Any) -> web.Response:
    assert target.name is not None
    rt = target.rt
    obj, gone = cluster.delete(rt, target.namespace, target.name, _delete_options(request, body))
    if gone and not (rt.custom or rt.kind in DELETE_RETURNS_OBJECT):
        return json_response(_deleted_status(rt, obj))
    return json_response(cluster.present(rt, obj))


def delete_collection(request: web.Request, cluster: Cluster, target: Target) -> web.Response:
    rt = target.rt
    options = DeleteOptions.from_body({}, dict(request.query), "All" in request.query.getall("dryRun", []))
    deleted = []
    for obj in list(cluster.list(rt, selection_of(target, request.query))):
        metadata = obj["metadata"]
        result, _ = cluster.delete(rt, metadata.get("namespace"), metadata["name"], options)
        deleted.append(cluster.present(rt, result))
    return json_response(
        {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(cluster.store.rv)},
            "items": deleted,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/version", get_version)
    app.router.add_get("/version/", get_version)
    for path in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(path, health)
    app.router.add_get("/api", get_api)
    app.router.add_get("/api/", get_api)
    app.router.add_get("/apis", get_apis)
    app.router.add_get("/apis/", get_apis)
    app.router.add_get("/openapi/v3", get_openapi_root)
    app.router.add_get("/openapi/v3/{tail:.+}", get_openapi_group_version)
    app.router.add_get("/openapi/v2", not_found_handler)
    app.router.add_get("/api/{version}", get_core_resources)
    app.router.add_get("/apis/{group}", get_group)
    app.router.add_get("/apis/{group}/{version}", get_group_resources)
    for method in ("GET", "POST"):  # GET: WebSocket (kubectl >= 1.30); POST: SPDY, refused with a Status
        app.router.add_route(method, "/api/v1/namespaces/{namespace}/pods/{name}/exec", pod_exec)
    app.router.add_route("*", "/api/{version}/{tail:.+}", handle_resource)
    app.router.add_route("*", "/apis/{group}/{version}/{tail:.+}", handle_resource)
