"""When the next tick of a canary runs: the scheduling rules, pure functions over typed values.

The scheduler (:mod:`controller.scheduler`) runs a tick every ``analysis.interval``; these rules decide
when waiting the rest of the interval would only add latency, because the next tick runs no analysis:

* after a tick: Finalising always (unless a post-promotion analysis runs: one check per interval), and
  Promoting once the primary is ready, continue at once;
* on a Deployment change: the target's pod template changed while no analysis runs (Initialized,
  Succeeded, Failed: the next tick detects the new revision), or the primary became ready while
  Promoting (the next tick moves on to Finalising).

Readiness is the tick's own rule (:func:`controller.rollout.readiness.check_deployment_ready` with the
Canary's primary threshold and progress deadline), so a wake-up never precedes a tick that would wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from controller.api import Canary, Phase
from controller.api.options import OptionError, post_promotion_iterations
from controller.errors import NotReadyError
from controller.rollout.readiness import WorkloadState, check_ready, parse_time
from controller.rollout.revision import has_target_changed

# No analysis runs in these phases: a new target revision is only detected by the next tick.
_IDLE = frozenset({Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED})


class Watched(Enum):
    """What a Deployment is to a Canary, for the scheduler's target index."""

    TARGET = "target"
    PRIMARY = "primary"


@dataclass(frozen=True)
class TickOutcome:
    """What one tick tells the scheduler.

    ``canary`` is the Canary as the tick left it (None when it is gone or invalid); ``interval`` the
    seconds from the start of this tick to the next one (``analysis.interval``, at least the
    controller's minimum); ``due_now`` says the next tick should run at once instead.
    """

    canary: Canary | None
    interval: float
    due_now: bool = False


def watched_deployments(canary: Canary) -> dict[str, Watched]:
    """The Deployments whose changes may make a canary's next tick due early, by name."""
    target = canary.target_name
    if not target:
        return {}
    return {target: Watched.TARGET, f"{target}-primary": Watched.PRIMARY}


def primary_is_ready(canary: Canary, primary: WorkloadState, now: datetime) -> bool:
    """The tick's readiness rule for the primary Deployment."""
    try:
        check_ready(
            primary,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=canary.analysis.effective_primary_ready_threshold,
            now=now,
            since=parse_time(canary.status.last_transition_time),
        )
    except NotReadyError:
        return False
    return True


def needs_primary(canary: Canary) -> bool:
    """Whether :func:`next_tick_due_now` needs the primary's state (only while Promoting)."""
    return canary.status.phase == Phase.PROMOTING


def next_tick_due_now(canary: Canary, primary: WorkloadState | None, now: datetime) -> bool:
    """After a tick: Finalising always, and Promoting once the primary is ready, continue at once."""
    phase = canary.status.phase
    if phase == Phase.FINALISING:
        # Flagman: a post-promotion analysis checks once per interval (controller.rollout.postpromotion).
        return not verifies_after_promotion(canary)
    return phase == Phase.PROMOTING and primary is not None and primary_is_ready(canary, primary, now)


def verifies_after_promotion(canary: Canary) -> bool:
    """The ``flagman.app/post-promotion-iterations`` option is on: Finalising lasts its iterations."""
    try:
        return post_promotion_iterations(canary.metadata) is not None
    except OptionError:
        return False


def wakes_on_target(canary: Canary, spec_hash: str) -> bool:
    """The target's pod template (hashed: ``spec_hash``) changed while no analysis runs."""
    status = canary.status
    return status.phase in _IDLE and has_target_changed(
        spec_hash, status.last_applied_spec, status.last_promoted_spec
    )


def wakes_on_primary(canary: Canary, primary: WorkloadState, now: datetime) -> bool:
    """The primary became ready while Promoting."""
    return canary.status.phase == Phase.PROMOTING and primary_is_ready(canary, primary, now)
