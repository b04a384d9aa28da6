"""What the dashboard shows of a Canary: a small summary with no spec details (no webhook metadata, and of
the annotations only who paused it: the others may carry tokens), computed from the object as read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.api.requests import read_pause

ANALYSIS_PHASES = frozenset({"Progressing", "WaitingPromotion", "Promoting", "Finalising"})


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def summarize(canary: Mapping[str, Any]) -> dict[str, Any]:
    metadata = canary.get("metadata") or {}
    spec = canary.get("spec") or {}
    status = canary.get("status") or {}
    analysis = spec.get("analysis") or {}
    phase = str(status.get("phase") or "")
    iterations = _int(status.get("iterations"))
    total = _int(analysis.get("iterations"))
    if phase == "Succeeded":
        progress = 100
    elif phase in ANALYSIS_PHASES and total > 0:
        progress = min(100, round(100 * iterations / total))
    else:
        progress = 0
    conditions = {str(c.get("type")): c for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    request = conditions.get("ReleaseRequest") or {}
    promoted = conditions.get("Promoted") or {}
    return {
        "key": f"{metadata.get('namespace', '')}/{metadata.get('name', '')}",
        "namespace": str(metadata.get("namespace", "")),
        "name": str(metadata.get("name", "")),
        "target": str((spec.get("targetRef") or {}).get("name", "")),
        "phase": phase or "Pending",
        "iterations": iterations,
        "totalIterations": total,
        "progress": progress,
        "failedChecks": _int(status.get("failedChecks")),
        "threshold": _int(analysis.get("threshold")),
        "canaryWeight": _int(status.get("canaryWeight")),
        "lastTransitionTime": str(status.get("lastTransitionTime") or ""),
        "message": str(promoted.get("message") or ""),
        "request": str(request.get("message") or ""),
        "suspended": bool(spec.get("suspend")),
        "paused": read_pause(metadata),  # who paused it ("" unknown), None when not paused
    }
