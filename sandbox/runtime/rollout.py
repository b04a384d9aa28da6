"""The Deployment controller's arithmetic as pure functions: template hashes, surge and unavailability
budgets, the rolling-update scaling plan and the Deployment status with its conditions.

Kept free of I/O so each rule is testable on plain dicts; `deployments.py` applies the results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sandbox.runtime.kube import Obj
from sandbox.runtime.objects import NAME_ALPHABET, parse_timestamp, timestamp

HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600


def template_hash(template: Obj) -> str:
    """A stable, name-safe hash of a pod template (the `pod-template-hash` label)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    number = int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big")
    digits = []
    for _ in range(10):
        number, index = divmod(number, len(NAME_ALPHABET))
        digits.append(NAME_ALPHABET[index])
    return "".join(digits)


def desired_replicas(obj: Obj) -> int:
    value = obj.get("spec", {}).get("replicas")
    return 1 if value is None else int(value)


def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """Resolve `maxSurge`/`maxUnavailable` (an int or "25%") against `total` replicas."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


@dataclass(frozen=True)
class Budget:
    surge: int
    unavailable: int


def rolling_budget(deployment: Obj) -> Budget:
    """Kubernetes' defaults (25% / 25%), with at least one of them non-zero."""
    spec = deployment.get("spec", {})
    desired = desired_replicas(deployment)
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return Budget(surge=0, unavailable=0)
    rolling = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return Budget(surge=surge, unavailable=min(unavailable, desired))


def spec_replicas(replica_set: Obj) -> int:
    return int(replica_set.get("spec", {}).get("replicas") or 0)


def status_count(replica_set: Obj, field: str) -> int:
    return int(replica_set.get("status", {}).get(field) or 0)


def revision_of(replica_set: Obj) -> int:
    annotations = replica_set.get("metadata", {}).get("annotations") or {}
    try:
        return int(annotations.get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def plan_scaling(deployment: Obj, new: Obj, old: list[Obj]) -> dict[str, int]:
    """The next `spec.replicas` for each ReplicaSet that should change, by name.

    RollingUpdate follows the Deployment controller: scale the new ReplicaSet up within `desired + maxSurge`,
    first drop unhealthy old replicas, then scale old ones down while keeping `desired - maxUnavailable`
    available. Recreate scales the old ReplicaSets to zero and waits for their pods to go first.
    """
    desired = desired_replicas(deployment)
    target = {rs["metadata"]["name"]: spec_replicas(rs) for rs in [new, *old]}
    new_name = new["metadata"]["name"]
    strategy = (deployment.get("spec", {}).get("strategy") or {}).get("type", "RollingUpdate")
    if strategy == "Recreate":
        if any(spec_replicas(rs) > 0 for rs in old):
            target.update({rs["metadata"]["name"]: 0 for rs in old})
        elif all(status_count(rs, "replicas") == 0 for rs in old):
            target[new_name] = desired
        return _changes(target, [new, *old])

    budget = rolling_budget(deployment)
    total = sum(target.values())
    if target[new_name] > desired:
        target[new_name] = desired
    elif target[new_name] < desired:
        room = desired + budget.surge - total
        if room > 0:
            target[new_name] += min(room, desired - target[new_name])

    min_available = desired - budget.unavailable
    new_unavailable = spec_replicas(new) - status_count(new, "availableReplicas")
    scale_down_room = sum(spec_replicas(rs) for rs in [new, *old]) - min_available - max(0, new_unavailable)
    oldest_first = sorted(old, key=lambda rs: rs["metadata"].get("creationTimestamp", ""))
    for rs in oldest_first:
        if scale_down_room <= 0:
            break
        name = rs["metadata"]["name"]
        unhealthy = target[name] - status_count(rs, "availableReplicas")
        cut = min(max(0, unhealthy), scale_down_room)
        target[name] -= cut
        scale_down_room -= cut

    available = sum(status_count(rs, "availableReplicas") for rs in [new, *old])
    removable = available - min_available
    for rs in oldest_first:
        if removable <= 0:
            break
        name = rs["metadata"]["name"]
        cut = min(target[name], removable)
        target[name] -= cut
        removable -= cut
    return _changes(target, [new, *old])


def _changes(target: dict[str, int], replica_sets: list[Obj]) -> dict[str, int]:
    return {
        rs["metadata"]["name"]: target[rs["metadata"]["name"]]
        for rs in replica_sets
        if target[rs["metadata"]["name"]] != spec_replicas(rs)
    }


def _condition(deployment: Obj, condition_type: str) -> Obj | None:
    for condition in deployment.get("status", {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return dict(condition)
    return None


def _set_condition(previous: Obj | None, status: str, reason: str, message: str, moment: dt.datetime) -> Obj:
    """Keep both timestamps when nothing changed; keep lastTransitionTime while the status stays the same."""
    if previous and previous.get("status") == status and previous.get("reason") == reason:
        return {**previous, "message": message}
    transition = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {
        "type": "",
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": timestamp(moment),
        "lastTransitionTime": transition or timestamp(moment),
    }


@dataclass(frozen=True)
class StatusResult:
    status: Obj
    #: Seconds until the progress deadline must be re-checked, if it still matters.
    recheck_after: float | None


def deployment_status(
    deployment: Obj, new: Obj | None, old: list[Obj], new_created: bool, moment: dt.datetime
) -> StatusResult:
    """`status` as the Deployment controller writes it, which `kubectl rollout status` and Flagger read."""
    all_sets = ([new] if new else []) + old
    desired = desired_replicas(deployment)
    previous = deployment.get("status") or {}
    replicas = sum(status_count(rs, "replicas") for rs in all_sets)
    updated = status_count(new, "replicas") if new else 0
    ready = sum(status_count(rs, "readyReplicas") for rs in all_sets)
    available = sum(status_count(rs, "availableReplicas") for rs in all_sets)
    unavailable = max(0, sum(spec_replicas(rs) for rs in all_sets) - available)
    budget = rolling_budget(deployment)

    if available >= desired - budget.unavailable:
        available_condition = _set_condition(
            _condition(deployment, "Available"),
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            moment,
        )
    else:
        available_condition = _set_condition(
            _condition(deployment, "Available"),
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            moment,
        )
    available_condition["type"] = "Available"

    progressing_before = _condition(deployment, "Progressing")
    new_name = new["metadata"]["name"] if new else deployment["metadata"]["name"]
    complete = (
        new is not None
        and updated == desired
        and replicas == desired
        and available == desired
        and spec_replicas(new) == desired
    )
    progressed = (
        updated > int(previous.get("updatedReplicas") or 0)
        or ready > int(previous.get("readyReplicas") or 0)
        or available > int(previous.get("availableReplicas") or 0)
        or replicas < int(previous.get("replicas") or 0)
        or int(previous.get("observedGeneration") or 0) != int(deployment["metadata"].get("generation") or 0)
    )
    deadline = int(
        deployment.get("spec", {}).get("progressDeadlineSeconds") or DEFAULT_PROGRESS_DEADLINE_SECONDS
    )
    recheck: float | None = None
    if complete:
        progressing = _set_condition(
            progressing_before,
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{new_name}" has successfully progressed.',
            moment,
        )
    elif new_created:
        progressing = _set_condition(
            progressing_before,
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{new_name}"',
            moment,
        )
        progressing["lastUpdateTime"] = timestamp(moment)
        recheck = float(deadline)
    elif progressed or progressing_before is None:
        progressing = _set_condition(
            progressing_before,
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{new_name}" is progressing.',
            moment,
        )
        progressing["lastUpdateTime"] = timestamp(moment)
        recheck = float(deadline)
    else:
        progressing = dict(progressing_before)
        reason = progressing.get("reason")
        if reason not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            last = parse_timestamp(progressing.get("lastUpdateTime")) or moment
            remaining = (last + dt.timedelta(seconds=deadline) - moment).total_seconds()
            if remaining <= 0:
                progressing = _set_condition(
                    progressing_before,
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{new_name}" has timed out progressing.',
                    moment,
                )
            else:
                recheck = remaining
    progressing["type"] = "Progressing"

    status: Obj = {
        "observedGeneration": int(deployment["metadata"].get("generation") or 0),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [available_condition, progressing],
    }
    return StatusResult(status=status, recheck_after=recheck)
