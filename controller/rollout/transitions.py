"""Pure status transitions: Flagger's ``SyncStatus``, ``SetStatusPhase`` and the Promoted condition.

Each function takes the current :class:`CanaryStatus` and returns the next one; the tick writes it.
``lastTransitionTime`` means "last status write", as in Flagger (spec 3).
"""

from __future__ import annotations

from datetime import UTC, datetime

from controller.api import PROMOTED_CONDITION, VALID_CONDITION, CanaryStatus, Condition, Phase
from controller.rollout.ports import Revision

_CONDITION_STATUS: dict[Phase, str] = {
    Phase.INITIALIZED: "True",
    Phase.SUCCEEDED: "True",
    Phase.FAILED: "False",
}

_KEEPS_WEIGHT_AND_ITERATIONS = frozenset({Phase.PROGRESSING, Phase.WAITING, Phase.PROMOTING})


def format_time(moment: datetime) -> str:
    """Kubernetes RFC 3339 with second precision: ``2019-06-16T14:05:07Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition_message(phase: Phase, kind: str) -> str:
    """The Promoted condition's message for a phase (spec 3)."""
    messages = {
        Phase.INITIALIZED: f"{kind} initialization completed.",
        Phase.WAITING: "Waiting for approval.",
        Phase.WAITING_PROMOTION: "Waiting for approval.",
        Phase.PROGRESSING: "New revision detected, progressing canary analysis.",
        Phase.PROMOTING: "Canary analysis completed, starting primary rolling update.",
        Phase.FINALISING: "Canary analysis completed, routing all traffic to primary.",
        Phase.SUCCEEDED: "Canary analysis completed successfully, promotion finished.",
        Phase.FAILED: f"Canary analysis failed, {kind} scaled to zero.",
    }
    return messages.get(phase, f"New {kind} detected, starting initialization.")


def with_promoted_condition(status: CanaryStatus, kind: str, now: str) -> CanaryStatus:
    """Rewrite the Promoted condition for ``status.phase`` when its status or reason changed."""
    phase = status.phase
    wanted_status = _CONDITION_STATUS.get(phase, "Unknown")
    reason = phase.value or Phase.INITIALIZING.value
    current = status.condition(PROMOTED_CONDITION)
    if current is not None and current.status == wanted_status and current.reason == reason:
        return status
    transition = now
    if current is not None and current.status == wanted_status and current.last_transition_time:
        transition = current.last_transition_time
    condition = Condition(
        type=PROMOTED_CONDITION,
        status=wanted_status,
        reason=reason,
        message=condition_message(phase, kind),
        last_update_time=now,
        last_transition_time=transition,
    )
    others = tuple(item for item in status.conditions if item.type != PROMOTED_CONDITION)
    return status.replace(conditions=(condition, *others))


def with_valid_condition(status: CanaryStatus, problem: str | None, now: str) -> CanaryStatus:
    """Set (``problem`` given) or drop Flagman's ``Valid`` condition."""
    others = tuple(item for item in status.conditions if item.type != VALID_CONDITION)
    if problem is None:
        return status.replace(conditions=others)
    current = status.condition(VALID_CONDITION)
    if current is not None and current.message == problem and current.status == "False":
        return status
    condition = Condition(
        type=VALID_CONDITION,
        status="False",
        reason="InvalidSpec",
        message=problem,
        last_update_time=now,
        last_transition_time=(current.last_transition_time if current and current.status == "False" else now),
    )
    return status.replace(conditions=(*others, condition))


def sync_status(
    status: CanaryStatus,
    phase: Phase,
    revision: Revision,
    *,
    kind: str,
    now: datetime,
    canary_weight: int = 0,
    iterations: int = 0,
    failed_checks: int = 0,
) -> CanaryStatus:
    """Flagger's ``SyncStatus``: records the revision under test (hash + tracked configs)."""
    stamp = format_time(now)
    synced = status.replace(
        phase=phase,
        canary_weight=canary_weight,
        iterations=iterations,
        failed_checks=failed_checks,
        last_applied_spec=revision.spec_hash,
        last_promoted_spec=revision.spec_hash if phase == Phase.INITIALIZED else status.last_promoted_spec,
        tracked_configs=dict(revision.tracked_configs),
        last_transition_time=stamp,
    )
    return with_promoted_condition(synced, kind, stamp)


def set_phase(status: CanaryStatus, phase: Phase, *, kind: str, now: datetime) -> CanaryStatus:
    """Flagger's ``SetStatusPhase``, without the WaitingPromotion iteration reset (see compatibility.md).

    Leaving the analysis (any phase but Progressing, Waiting, Promoting, WaitingPromotion) clears the
    weight and the iteration count; Initialized and Succeeded record the promoted revision.
    """
    stamp = format_time(now)
    changed = status.replace(phase=phase, last_transition_time=stamp)
    if phase not in _KEEPS_WEIGHT_AND_ITERATIONS and phase != Phase.WAITING_PROMOTION:
        changed = changed.replace(canary_weight=0, iterations=0)
    if phase in (Phase.INITIALIZED, Phase.SUCCEEDED):
        changed = changed.replace(last_promoted_spec=changed.last_applied_spec)
    return with_promoted_condition(changed, kind, stamp)


def set_fields(status: CanaryStatus, *, now: datetime, **fields: int) -> CanaryStatus:
    """``SetStatusFailedChecks`` / ``SetStatusIterations`` / ``SetStatusWeight``: fields + timestamp."""
    return status.replace(last_transition_time=format_time(now), **fields)
