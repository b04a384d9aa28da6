"""core/v1 Event <-> events.k8s.io/v1 Event: two views of one store.

Events are stored in the core/v1 shape (``kubectl describe`` reads that API); the events.k8s.io view
renames fields on the way in and out, so an event written through either API is visible through both.
"""

from __future__ import annotations

from typing import Any

from .meta import micro_time

# (events.k8s.io/v1 name, core/v1 name)
_RENAMES = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedCount", "count"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedSource", "source"),
    ("reportingController", "reportingComponent"),
)
_SHARED = ("metadata", "reason", "type", "action", "eventTime", "series", "related", "reportingInstance")


def to_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for name in _SHARED:
        if name in core:
            result[name] = core[name]
    for new_name, core_name in _RENAMES:
        if core_name in core and core[core_name] not in ("", None):  # omitempty strings in events.k8s.io/v1
            result[new_name] = core[core_name]
    if not result.get("eventTime"):
        # events.k8s.io requires eventTime; core events written by old clients only have lastTimestamp.
        result["eventTime"] = (
            core.get("lastTimestamp")
            or core.get("firstTimestamp")
            or core.get("metadata", {}).get("creationTimestamp")
        )
    return result


def from_events_v1(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"apiVersion": "v1", "kind": "Event"}
    for name in _SHARED:
        if name in event:
            result[name] = event[name]
    for new_name, core_name in _RENAMES:
        if new_name in event:
            result[core_name] = event[new_name]
    result.setdefault("eventTime", micro_time())
    return result
