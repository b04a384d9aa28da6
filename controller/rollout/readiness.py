"""Deployment readiness with both deadlines (Flagger's ``isDeploymentReady``).

Two deadlines can make a not-ready Deployment *non-retriable* (which triggers a rollback or a failed
promotion instead of another wait):

* the Deployment's own ``progressDeadlineSeconds``: Kubernetes sets the ``Progressing`` condition's
  reason to ``ProgressDeadlineExceeded``;
* the Canary's ``progressDeadlineSeconds``: the ``Available`` condition is ``False`` with reason
  ``MinimumReplicasUnavailable`` and its ``lastUpdateTime`` is older than the deadline.

The evaluation is a pure function of a :class:`DeploymentState` snapshot and the current time, so the
state machine's tests drive it with a fake clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controller.errors import NotReadyError


@dataclass(frozen=True)
class DeploymentCondition:
    type: str
    status: str
    reason: str = ""
    last_update_time: datetime | None = None


@dataclass(frozen=True)
class DeploymentState:
    """The parts of a Deployment that readiness depends on."""

    name: str
    generation: int = 0
    observed_generation: int = 0
    spec_replicas: int | None = None
    replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0
    conditions: tuple[DeploymentCondition, ...] = field(default_factory=tuple)

    def condition(self, condition_type: str) -> DeploymentCondition | None:
        return next((item for item in self.conditions if item.type == condition_type), None)

    @classmethod
    def from_dict(cls, deployment: Mapping[str, Any]) -> DeploymentState:
        """Build the snapshot from a Deployment's JSON (camelCase keys, as the API serves it)."""
        metadata = deployment.get("metadata") or {}
        spec = deployment.get("spec") or {}
        status = deployment.get("status") or {}
        conditions = tuple(
            DeploymentCondition(
                type=str(item.get("type", "")),
                status=str(item.get("status", "")),
                reason=str(item.get("reason") or ""),
                last_update_time=parse_time(item.get("lastUpdateTime")),
            )
            for item in status.get("conditions") or ()
        )
        replicas = spec.get("replicas")
        return cls(
            name=str(metadata.get("name", "")),
            generation=int(metadata.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            spec_replicas=int(replicas) if replicas is not None else None,
            replicas=int(status.get("replicas") or 0),
            updated_replicas=int(status.get("updatedReplicas") or 0),
            available_replicas=int(status.get("availableReplicas") or 0),
            conditions=conditions,
        )


@dataclass(frozen=True)
class DaemonSetState:
    """The parts of a DaemonSet that readiness depends on (Flagger's ``isDaemonSetReady``)."""

    name: str
    generation: int = 0
    observed_generation: int = 0
    desired_number_scheduled: int = 0
    updated_number_scheduled: int = 0
    number_available: int = 0

    @classmethod
    def from_dict(cls, daemonset: Mapping[str, Any]) -> DaemonSetState:
        metadata = daemonset.get("metadata") or {}
        status = daemonset.get("status") or {}
        return cls(
            name=str(metadata.get("name", "")),
            generation=int(metadata.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            desired_number_scheduled=int(status.get("desiredNumberScheduled") or 0),
            updated_number_scheduled=int(status.get("updatedNumberScheduled") or 0),
            number_available=int(status.get("numberAvailable") or 0),
        )


WorkloadState = DeploymentState | DaemonSetState
"""What readiness is judged on: the target kind's own status."""


def parse_time(value: Any) -> datetime | None:
    """Parse a Kubernetes RFC 3339 timestamp (``2024-01-02T03:04:05Z``); None when absent or invalid."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def check_deployment_ready(
    deployment: DeploymentState, *, deadline_seconds: int, ready_threshold: int, now: datetime
) -> None:
    """Return when ready; raise :class:`NotReadyError` with Flagger's message otherwise."""
    if deployment.generation > deployment.observed_generation:
        raise NotReadyError(
            "waiting for rollout to finish: observed deployment generation less than desired generation",
            retriable=True,
        )
    retriable = True
    progressing = deployment.condition("Progressing")
    available = deployment.condition("Available")
    if (
        progressing is not None
        and available is not None
        and available.status == "False"
        and available.reason == "MinimumReplicasUnavailable"
        and available.last_update_time is not None
        and available.last_update_time + timedelta(seconds=deadline_seconds) < now
    ):
        retriable = False
    needed = math.floor(deployment.updated_replicas * ready_threshold / 100)
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        raise NotReadyError(f'deployment "{deployment.name}" exceeded its progress deadline', retriable=False)
    if deployment.spec_replicas is not None and deployment.updated_replicas < deployment.spec_replicas:
        raise NotReadyError(
            f"waiting for rollout to finish: {deployment.updated_replicas} out of {deployment.spec_replicas} "
            "new replicas have been updated",
            retriable=retriable,
        )
    if deployment.replicas > deployment.updated_replicas:
        pending = deployment.replicas - deployment.updated_replicas
        raise NotReadyError(
            f"waiting for rollout to finish: {pending} old replicas are pending termination",
            retriable=retriable,
        )
    if deployment.available_replicas < needed:
        raise NotReadyError(
            f"waiting for rollout to finish: {deployment.available_replicas} of {needed} "
            f"(readyThreshold {ready_threshold}%) updated replicas are available",
            retriable=retriable,
        )


def check_daemonset_ready(
    daemonset: DaemonSetState,
    *,
    deadline_seconds: int,
    ready_threshold: int,
    now: datetime,
    since: datetime | None,
) -> None:
    """Flagger's ``isDaemonSetReady``: every scheduled pod updated, and ``readyThreshold`` percent of
    them available. DaemonSets have no progress-deadline condition, so the Canary's deadline runs from
    its ``lastTransitionTime`` (``since``): past it, not ready is final."""
    if daemonset.generation > daemonset.observed_generation:
        raise NotReadyError(
            "waiting for rollout to finish: observed daemonset generation less than desired generation",
            retriable=True,
        )
    desired = daemonset.desired_number_scheduled
    needed = int(desired * ready_threshold / 100)
    not_updated = daemonset.updated_number_scheduled < desired
    if not not_updated and daemonset.number_available >= needed:
        return
    if since is not None and since + timedelta(seconds=deadline_seconds) < now:
        raise NotReadyError(f"exceeded its progressDeadlineSeconds: {deadline_seconds}", retriable=False)
    if not_updated:
        raise NotReadyError(
            f"waiting for rollout to finish: {daemonset.updated_number_scheduled} out of {desired} "
            "new pods have been updated",
            retriable=True,
        )
    raise NotReadyError(
        f"waiting for rollout to finish: {daemonset.number_available} of {needed} "
        f"(readyThreshold {ready_threshold}%) updated pods are available",
        retriable=True,
    )


def check_ready(
    state: WorkloadState,
    *,
    deadline_seconds: int,
    ready_threshold: int,
    now: datetime,
    since: datetime | None,
) -> None:
    """:func:`check_deployment_ready` or :func:`check_daemonset_ready`, by the state's kind."""
    if isinstance(state, DaemonSetState):
        check_daemonset_ready(
            state, deadline_seconds=deadline_seconds, ready_threshold=ready_threshold, now=now, since=since
        )
    else:
        check_deployment_ready(
            state, deadline_seconds=deadline_seconds, ready_threshold=ready_threshold, now=now
        )
