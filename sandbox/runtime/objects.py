"""Helpers over plain Kubernetes objects: timestamps, owners, selectors, pod readiness."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sandbox.runtime.kube import Obj

#: The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


def controller_of(obj: Obj) -> Mapping[str, Any] | None:
    for owner in obj.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("controller"):
            return owner  # type: ignore[no-any-return]
    return None


def owned_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels_of(obj: Obj) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); an empty selector matches nothing here."""
    if not selector:
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expression in expressions:
        key, operator, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """A Service's plain map selector."""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def is_terminating(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def pod_condition(pod: Obj, condition_type: str) -> Mapping[str, Any] | None:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return condition  # type: ignore[no-any-return]
    return None


def pod_is_ready(pod: Obj) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True" and not is_terminating(pod)


def pod_is_available(pod: Obj, min_ready_seconds: int, at: dt.datetime | None = None) -> bool:
    """Ready for at least minReadySeconds, as the ReplicaSet controller counts `availableReplicas`."""
    if not pod_is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    condition = pod_condition(pod, "Ready") or {}
    since = parse_timestamp(condition.get("lastTransitionTime"))
    return since is not None and (at or now()) - since >= dt.timedelta(seconds=min_ready_seconds)


def seconds_until_available(pod: Obj, min_ready_seconds: int) -> float | None:
    """How long until a ready pod counts as available, or None if it already does or is not ready."""
    if not pod_is_ready(pod) or min_ready_seconds <= 0:
        return None
    condition = pod_condition(pod, "Ready") or {}
    since = parse_timestamp(condition.get("lastTransitionTime"))
    if since is None:
        return None
    remaining = (since + dt.timedelta(seconds=min_ready_seconds) - now()).total_seconds()
    return remaining if remaining > 0 else None
