"""What ``get`` and ``status`` print: pure functions from the Canary and its events to text or data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from controller.api import PROMOTED_CONDITION, Canary, Metric, Phase
from controller.api.bluegreen_options import ROLLBACK_CONDITION
from controller.api.options import OptionError, post_promotion_iterations
from controller.api.requests import PAUSE_ANNOTATION, REQUEST_ANNOTATION, REQUEST_CONDITION, read_pause
from controller.errors import CanaryValidationError

OPTION_PREFIX = "flagman.app/"
KUBERNETES_DEFAULT_ITERATIONS = 10  # the controller's value when analysis.iterations < 1
BAR_WIDTH = 20
RECENT_EVENTS = 10

# Builtin metrics are named differently in Flagger's Halt events.
_METRIC_WORDS = {"request-success-rate": "success rate", "request-duration": "request duration"}


def dump(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


def as_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``kubectl get -o json`` of several objects: a ``List``."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {}}


# -- get / list ----------------------------------------------------------------------------------------


def table(canaries: Sequence[Mapping[str, Any]], *, with_namespace: bool) -> str:
    header = ["NAME", "STATUS", "ITERATION", "FAILEDCHECKS", "PAUSED", "LASTTRANSITIONTIME"]
    if with_namespace:
        header.insert(0, "NAMESPACE")
    rows = [header]
    for body in canaries:
        metadata, status = body.get("metadata") or {}, body.get("status") or {}
        row = [
            str(metadata.get("name", "")),
            str(status.get("phase") or "Unknown"),
            f"{status.get('iterations', 0)}/{total_iterations(body)}",
            str(status.get("failedChecks", 0)),
            "yes" if read_pause(metadata) is not None or (body.get("spec") or {}).get("suspend") else "no",
            str(status.get("lastTransitionTime") or "<none>"),
        ]
        if with_namespace:
            row.insert(0, str(metadata.get("namespace", "")))
        rows.append(row)
    return columns(rows)


def columns(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def total_iterations(body: Mapping[str, Any]) -> int:
    """N of the analysis, or M of the post-promotion analysis while it runs (Finalising)."""
    verifying = post_promotion(body)
    finalising = (body.get("status") or {}).get("phase") == Phase.FINALISING
    if verifying is not None and finalising and verifying["state"] != "Failed" and verifying["iterations"]:
        return int(verifying["iterations"])
    analysis = (body.get("spec") or {}).get("analysis") or {}
    iterations = analysis.get("iterations")
    return iterations if isinstance(iterations, int) and iterations > 0 else KUBERNETES_DEFAULT_ITERATIONS


# -- status --------------------------------------------------------------------------------------------


POST_PROMOTION_CONDITION = "PostPromotionAnalysis"  # controller.rollout.postpromotion.CONDITION
PREVIEW_CONDITION = "PreviewReplicas"  # controller.rollout.preview.CONDITION


def _condition(body: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for item in (body.get("status") or {}).get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def post_promotion(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The post-promotion analysis: configured M, and the condition's state (None when neither)."""
    try:
        total = post_promotion_iterations(body.get("metadata") or {})
    except OptionError:
        total = None
    condition = _condition(body, POST_PROMOTION_CONDITION)
    if total is None and condition is None:
        return None
    phase = (body.get("status") or {}).get("phase")
    running = condition is not None and condition.get("reason") == "Running" and phase == Phase.FINALISING
    return {
        "iterations": total,
        "running": running,
        "state": condition.get("reason") if condition is not None else None,
        "message": condition.get("message") if condition is not None else None,
    }


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    done = max(0, min(done, total))
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}"


def summary(body: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Everything ``status`` shows, as data (``status -o json|yaml`` prints this)."""
    metadata, status = body.get("metadata") or {}, body.get("status") or {}
    messages = [str(event.get("message") or "") for event in events]
    conditions = {
        str(item.get("type")): item for item in status.get("conditions") or [] if isinstance(item, dict)
    }
    spec_problem = ""
    metrics: list[dict[str, Any]] = []
    webhooks: list[dict[str, Any]] = []
    try:
        canary = Canary.from_dict(body)
    except CanaryValidationError as error:
        spec_problem = str(error)
    else:
        metrics = [_metric_row(metric, messages) for metric in canary.analysis.metrics]
        webhooks = [
            {"name": hook.name, "type": hook.effective_type, "lastResult": _last_mention(messages, hook.name)}
            for hook in canary.analysis.webhooks
        ]
    request = conditions.get(REQUEST_CONDITION)
    preview = conditions.get(PREVIEW_CONDITION)
    rollback = conditions.get(ROLLBACK_CONDITION)
    pause = read_pause(metadata)
    return {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "target": "{kind}/{name}".format(
            **{"kind": "Deployment", "name": "", **((body.get("spec") or {}).get("targetRef") or {})}
        ),
        "phase": status.get("phase") or "Unknown",
        "iterations": int(status.get("iterations") or 0),
        "totalIterations": total_iterations(body),
        "failedChecks": int(status.get("failedChecks") or 0),
        "threshold": max(1, int(((body.get("spec") or {}).get("analysis") or {}).get("threshold") or 0)),
        "revision": status.get("lastAppliedSpec") or "",
        "promotedRevision": status.get("lastPromotedSpec") or "",
        "condition": (conditions.get(PROMOTED_CONDITION) or {}).get("message", ""),
        "paused": None if pause is None else (pause or "unknown user"),
        "suspended": bool((body.get("spec") or {}).get("suspend")),
        "lastRequest": None if request is None else _request_row(request),
        "postPromotion": post_promotion(body),
        "preview": None if preview is None else preview.get("message"),
        "options": flagman_options(metadata),
        "instantRollback": None
        if rollback is None
        else {"state": rollback.get("reason"), "message": rollback.get("message")},
        "invalidSpec": spec_problem or None,
        "metrics": metrics,
        "webhooks": webhooks,
        "events": [
            {
                "type": event.get("type"),
                "reason": event.get("reason"),
                "message": event.get("message"),
                "time": _when(event),
            }
            for event in events[-RECENT_EVENTS:]
        ],
    }


def flagman_options(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The Flagman options on the Canary (``flagman.app/*`` annotations but the requests), by short name."""
    annotations = metadata.get("annotations") or {}
    return {
        str(key).removeprefix(OPTION_PREFIX): str(value)
        for key, value in sorted(annotations.items())
        if str(key).startswith(OPTION_PREFIX) and key not in (REQUEST_ANNOTATION, PAUSE_ANNOTATION)
    }


def _request_row(condition: Mapping[str, Any]) -> dict[str, Any]:
    request_id, _, text = str(condition.get("message") or "").partition(": ")
    return {"id": request_id, "honoured": condition.get("status") == "True", "message": text}


def _metric_row(metric: Metric, messages: Sequence[str]) -> dict[str, Any]:
    bounds = []
    if metric.threshold_range is not None:
        if metric.threshold_range.min is not None:
            bounds.append(f">= {_number(metric.threshold_range.min)}")
        if metric.threshold_range.max is not None:
            bounds.append(f"<= {_number(metric.threshold_range.max)}")
    elif metric.threshold is not None:
        bounds.append(
            f"{'>=' if metric.name == 'request-success-rate' else '<='} {_number(metric.threshold)}"
        )
    words = _METRIC_WORDS.get(metric.name, metric.name)
    failure = next((m for m in reversed(messages) if m.startswith("Halt ") and words in m), None)
    latest = _halted_value(failure, words) if failure else None
    return {
        "name": metric.name,
        "threshold": " and ".join(bounds) or "-",
        "lastFailedValue": latest,
        "lastFailure": failure,
    }


def _halted_value(message: str, words: str) -> str | None:
    """``Halt podinfo.test advancement success rate 60.00% < 99%`` -> ``60.00%``."""
    match = re.search(re.escape(words) + r"\s+(\S+)\s*[<>]", message)
    return match.group(1) if match else None


def _last_mention(messages: Sequence[str], hook: str) -> str | None:
    pattern = re.compile(rf"(^|\s){re.escape(hook)}(\s|$)")
    return next((m for m in reversed(messages) if pattern.search(m)), None)


def _number(value: float) -> str:
    return f"{value:g}"


def _when(event: Mapping[str, Any]) -> str:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        if event.get(key):
            return str(event[key])
    return ""


def age(stamp: str, now: datetime) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    seconds = max(0, int((now - moment.astimezone(UTC)).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def status_text(info: Mapping[str, Any], now: datetime) -> str:
    lines = [
        f"Name:           {info['name']}",
        f"Namespace:      {info['namespace']}",
        f"Target:         {info['target']}",
        f"Phase:          {info['phase']}" + (f"  ({info['condition']})" if info["condition"] else ""),
    ]
    if info["phase"] in (
        Phase.PROGRESSING,
        Phase.WAITING,
        Phase.WAITING_PROMOTION,
        Phase.PROMOTING,
        Phase.FINALISING,
    ):
        lines.append(f"Iteration:      {progress_bar(info['iterations'], info['totalIterations'])}")
    verifying = info.get("postPromotion")
    if verifying is not None:
        lines.append(f"Post-promotion: {_post_promotion_text(verifying)}")
    if info.get("preview"):
        lines.append(f"Preview:        {info['preview']}")
    lines.append(f"Failed checks:  {info['failedChecks']} of {info['threshold']} allowed before rollback")
    lines.append(
        f"Revision:       {info['revision'] or '<none>'} (promoted: {info['promotedRevision'] or '<none>'})"
    )
    if info["suspended"]:
        lines.append("Suspended:      spec.suspend is true")
    if info["paused"] is not None:
        lines.append(f"Paused:         by {info['paused']} (kubectl flagman resume)")
    if info["lastRequest"] is not None:
        verdict = "honoured" if info["lastRequest"]["honoured"] else "ignored"
        lines.append(f"Last request:   {verdict}: {info['lastRequest']['message']}")
    if info.get("options"):
        lines.append(
            "Options:        " + ", ".join(f"{key}={value}" for key, value in info["options"].items())
        )
    if info.get("instantRollback"):
        rollback = info["instantRollback"]
        lines.append(f"Rollback:       {rollback['state']}: {rollback['message']}")
    if info["invalidSpec"]:
        lines.append(f"Invalid spec:   {info['invalidSpec']}")
    if info["metrics"]:
        rows = [["METRIC", "THRESHOLD", "LAST FAILED VALUE", "LAST FAILURE"]]
        rows += [
            [m["name"], m["threshold"], m["lastFailedValue"] or "-", m["lastFailure"] or "none"]
            for m in info["metrics"]
        ]
        lines += ["Metrics:", _indent(columns(rows))]
    if info["webhooks"]:
        rows = [["WEBHOOK", "TYPE", "LAST RESULT"]]
        rows += [[w["name"], w["type"], w["lastResult"] or "not called yet"] for w in info["webhooks"]]
        lines += ["Webhooks:", _indent(columns(rows))]
    if info["events"]:
        rows = [["AGE", "TYPE", "MESSAGE"]]
        rows += [[age(e["time"], now), str(e["type"] or ""), str(e["message"] or "")] for e in info["events"]]
        lines += ["Events:", _indent(columns(rows))]
    else:
        lines.append("Events:         <none>")
    return "\n".join(lines)


def _post_promotion_text(verifying: Mapping[str, Any]) -> str:
    """What the post-promotion analysis is doing, in one line."""
    state, total = verifying.get("state"), verifying.get("iterations")
    if verifying.get("running"):
        return f"verifying the promoted version ({total} iterations): {verifying.get('message')}"
    if state in ("Passed", "Failed"):
        return f"{str(state).lower()}: {verifying.get('message')}"
    return f"{total} iterations after the promotion, before Succeeded"


def progress_line(body: Mapping[str, Any]) -> str:
    """One line per change while watching."""
    status = body.get("status") or {}
    phase = str(status.get("phase") or "Unknown")
    verifying = post_promotion(body)
    if verifying is not None and verifying["running"]:
        phase += " (post-promotion analysis)"
    line = f"{phase:<16} {progress_bar(int(status.get('iterations') or 0), total_iterations(body))}"
    return f"{line}  failed checks {status.get('failedChecks', 0)}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
