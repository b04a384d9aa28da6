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


async def write_request(cluster: Cluster, action: Action, body: Mapping[str, Any]) -> ReleaseRequest:
    """Write the request for the Canary as read (also the dashboard's buttons); PluginError when it
    cannot apply to the Canary's phase."""
    made = new_request(action, body, await cluster.whoami())
    await cluster.annotate(body, {REQUEST_ANNOTATION: made.to_annotation()})
    return made


async def request(cluster: Cluster, action: Action, name: str, *, wait: bool, within: float) -> ExitCode:
    made = await write_request(cluster, action, await cluster.canary(name))
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


def _key(body: Mapping[str, Any]) -> str:
    metadata = body.get("metadata") or {}
    return f"{metadata.get('name')}.{metadata.get('namespace')}"


async def write_pause(cluster: Cluster, body: Mapping[str, Any]) -> str:
    """Pause the Canary as read (also the dashboard's pause button); the sentence saying so."""
    user = await cluster.whoami()
    await cluster.annotate(body, {PAUSE_ANNOTATION: json.dumps({"requestedBy": user, "requestedAt": _now()})})
    return f"{_key(body)} paused by {user}"


async def write_resume(cluster: Cluster, body: Mapping[str, Any]) -> tuple[str, str]:
    """Resume the Canary as read (also the dashboard's resume button): the sentence saying so, and a
    warning (``""`` when none) when ``spec.suspend`` keeps it suspended anyway."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if PAUSE_ANNOTATION in annotations:
        await cluster.annotate(body, {PAUSE_ANNOTATION: None})
        message = f"{_key(body)} resumed"
    else:
        message = f"{_key(body)} is not paused"
    warning = ""
    if (body.get("spec") or {}).get("suspend"):
        warning = (
            "spec.suspend is true in the Canary manifest: it stays suspended until that is changed"
            " where the manifest lives"
        )
    return message, warning


async def pause(cluster: Cluster, name: str) -> ExitCode:
    print(await write_pause(cluster, await cluster.canary(name)))
    return ExitCode.OK


async def resume(cluster: Cluster, name: str) -> ExitCode:
    message, warning = await write_resume(cluster, await cluster.canary(name))
    print(message)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return ExitCode.OK
