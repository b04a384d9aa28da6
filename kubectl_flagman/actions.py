"""``promote``, ``abort``, ``retry``, ``undo``, ``pause``, ``resume``: write the request, then (unless
``--no-wait``) wait for the controller's verdict in the ``ReleaseRequest`` condition."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller.api import Phase
from controller.api.requests import (
    ALLOWED_PHASES,
    PAUSE_ANNOTATION,
    REQUEST_ANNOTATION,
    REQUEST_CONDITION,
    Action,
    ReleaseRequest,
)
from kubectl_flagman.cluster import Cluster
from kubectl_flagman.errors import ExitCode, PluginError

POLL_SECONDS = 0.1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request(action: Action, body: Mapping[str, Any], user: str) -> ReleaseRequest:
    """The request for the Canary as read, or a clear error when it cannot apply to its phase."""
    metadata, status = body.get("metadata") or {}, body.get("status") or {}
    name = f"{metadata.get('name')}.{metadata.get('namespace')}"
    phase = Phase(str(status.get("phase") or ""))
    if phase not in ALLOWED_PHASES[action]:
        wanted = " or ".join(sorted(item.value for item in ALLOWED_PHASES[action]))
        raise PluginError(
            f"cannot {action.value} {name}: it is {phase.value or 'not initialized'}, not {wanted}"
        )
    revision = str(status.get("lastAppliedSpec") or "")
    request_id = f"{int(time.time() * 1000):x}-{secrets.token_hex(3)}"
    return ReleaseRequest(action, revision, request_id, requested_by=user, requested_at=_now())


async def request(cluster: Cluster, action: Action, name: str, *, wait: bool, within: float) -> ExitCode:
    body = await cluster.canary(name)
    made = new_request(action, body, await cluster.whoami())
    await cluster.annotate(body, {REQUEST_ANNOTATION: made.to_annotation()})
    key = f"{name}.{cluster.namespace}"
    print(f"{action.value} requested for {key} at revision {made.revision} (request {made.id})")
    if not wait:
        return ExitCode.OK
    condition = await _verdict(cluster, name, made.id, within)
    if condition is None:
        print(
            f"error: the controller has not handled request {made.id} within {within:g}s"
            " (it stays pending: a promote waits for ready canary pods)",
            file=sys.stderr,
        )
        return ExitCode.TIMEOUT
    text = str(condition.get("message") or "").split(": ", 1)[-1]
    if condition.get("status") == "True":
        print(text)
        return ExitCode.OK
    print(f"error: {text}", file=sys.stderr)
    return ExitCode.ERROR


async def _verdict(cluster: Cluster, name: str, request_id: str, within: float) -> Mapping[str, Any] | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = (await cluster.canary(name)).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == REQUEST_CONDITION and str(condition.get("message", "")).startswith(
                f"{request_id}:"
            ):
                return dict(condition)
        await asyncio.sleep(POLL_SECONDS)
    return None


async def pause(cluster: Cluster, name: str) -> ExitCode:
    body = await cluster.canary(name)
    user = await cluster.whoami()
    await cluster.annotate(body, {PAUSE_ANNOTATION: json.dumps({"requestedBy": user, "requestedAt": _now()})})
    print(f"{name}.{cluster.namespace} paused by {user}")
    return ExitCode.OK


async def resume(cluster: Cluster, name: str) -> ExitCode:
    body = await cluster.canary(name)
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if PAUSE_ANNOTATION in annotations:
        await cluster.annotate(body, {PAUSE_ANNOTATION: None})
        print(f"{name}.{cluster.namespace} resumed")
    else:
        print(f"{name}.{cluster.namespace} is not paused")
    if (body.get("spec") or {}).get("suspend"):
        print(
            "warning: spec.suspend is true in the Canary manifest: it stays suspended until that is changed"
            " where the manifest lives",
            file=sys.stderr,
        )
    return ExitCode.OK
