"""Release requests: ``kubectl flagman promote|abort|retry|undo|pause|resume`` written as Canary annotations.

A request is an annotation, not a spec field, so that a GitOps tool's server-side apply of the Canary
manifest leaves it alone (the annotation is owned by the plugin's field manager, not by Flux or Argo CD),
and so that a Flagger CRD with a pruning schema keeps it. The controller never deletes a request: it
records the id of the last one it handled in the ``ReleaseRequest`` status condition, so a request is
honoured once, and an old one is never honoured again after a controller restart.

Every request carries the revision (``status.lastAppliedSpec``) it was made for; the controller ignores
it, with an event, when the canary has moved on to another revision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.api.status import Phase

REQUEST_ANNOTATION = "flagman.app/request"
"""One pending action (JSON: action, revision, id, requestedBy, requestedAt)."""

PAUSE_ANNOTATION = "flagman.app/paused"
"""Present while paused (JSON: requestedBy, requestedAt); ``resume`` removes it."""

REQUEST_CONDITION = "ReleaseRequest"
"""Status condition: the last handled request; ``status`` True when honoured, False when ignored."""

FIELD_MANAGER = "kubectl-flagman"
"""The plugin's field manager: it owns the annotations above, so another manager's apply keeps them."""


class Action(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"
    RETRY = "retry"
    UNDO = "undo"


ALLOWED_PHASES: Mapping[Action, frozenset[Phase]] = {
    Action.PROMOTE: frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION}),
    Action.ABORT: frozenset({Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION}),
    Action.RETRY: frozenset({Phase.FAILED}),
    # The instant rollback to the warm previous version (`flagman.app/scale-down-delay-seconds`).
    Action.UNDO: frozenset({Phase.PROMOTING, Phase.FINALISING, Phase.SUCCEEDED}),
}
"""The phases in which each action applies; in any other the controller ignores it with an event."""


class RequestError(ValueError):
    """A request annotation that cannot be read (its text says why)."""


@dataclass(frozen=True)
class ReleaseRequest:
    action: Action
    revision: str
    id: str
    requested_by: str = ""
    requested_at: str = ""

    def to_annotation(self) -> str:
        return json.dumps(
            {
                "action": self.action.value,
                "revision": self.revision,
                "id": self.id,
                "requestedBy": self.requested_by,
                "requestedAt": self.requested_at,
            },
            sort_keys=True,
        )

    @classmethod
    def from_annotation(cls, text: str) -> ReleaseRequest:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RequestError(f"{REQUEST_ANNOTATION}: not JSON: {error}") from None
        if not isinstance(data, Mapping):
            raise RequestError(f"{REQUEST_ANNOTATION}: must be a JSON object")
        try:
            action = Action(str(data.get("action")))
        except ValueError:
            choices = ", ".join(item.value for item in Action)
            raise RequestError(f"{REQUEST_ANNOTATION}: action must be one of {choices}") from None
        values = {key: data.get(key) for key in ("revision", "id", "requestedBy", "requestedAt")}
        for key in ("revision", "id"):
            if not isinstance(values[key], str) or not values[key]:
                raise RequestError(f"{REQUEST_ANNOTATION}: {key} is required")
        for key in ("requestedBy", "requestedAt"):
            if values[key] is not None and not isinstance(values[key], str):
                raise RequestError(f"{REQUEST_ANNOTATION}: {key} must be a string")
        return cls(
            action=action,
            revision=str(values["revision"]),
            id=str(values["id"]),
            requested_by=str(values["requestedBy"] or ""),
            requested_at=str(values["requestedAt"] or ""),
        )


def annotations_of(metadata: Mapping[str, Any]) -> Mapping[str, str]:
    value = metadata.get("annotations")
    return value if isinstance(value, Mapping) else {}


def read_request(metadata: Mapping[str, Any]) -> ReleaseRequest | None:
    """The request on a Canary's metadata, None without one; :class:`RequestError` when unreadable."""
    text = annotations_of(metadata).get(REQUEST_ANNOTATION)
    if text is None:
        return None
    return ReleaseRequest.from_annotation(str(text))


def read_pause(metadata: Mapping[str, Any]) -> str | None:
    """Who paused the Canary (``""`` when unknown), None when it is not paused."""
    text = annotations_of(metadata).get(PAUSE_ANNOTATION)
    if text is None:
        return None
    try:
        data = json.loads(str(text))
    except ValueError:
        return ""
    return str(data.get("requestedBy") or "") if isinstance(data, Mapping) else ""


def annotation_manager(metadata: Mapping[str, Any], key: str) -> str:
    """The field manager that last set annotation ``key`` (``metadata.managedFields``), or ``""``.

    This is what the API server itself says about who wrote the request, whatever the request claims.
    """
    entries = metadata.get("managedFields")
    if not isinstance(entries, list):
        return ""
    owner = ""
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        fields = entry.get("fieldsV1")
        meta = fields.get("f:metadata") if isinstance(fields, Mapping) else None
        owned = meta.get("f:annotations") if isinstance(meta, Mapping) else None
        if isinstance(owned, Mapping) and f"f:{key}" in owned:
            owner = str(entry.get("manager") or "")
    return owner


def requester(metadata: Mapping[str, Any], request: ReleaseRequest) -> str:
    """Who asked, as events and alerts say it: the user the plugin recorded and the API's field manager."""
    manager = annotation_manager(metadata, REQUEST_ANNOTATION)
    if request.requested_by and manager:
        return f"{request.requested_by} (via {manager})"
    return request.requested_by or manager or "an unknown user"
