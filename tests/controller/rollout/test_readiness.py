"""Readiness table of Flagger's ``isDeploymentReady`` (pkg/canary tests), with both deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.errors import NotReadyError
from controller.rollout.readiness import DeploymentState, check_deployment_ready

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _deployment(**overrides: object) -> dict[str, object]:
    status: dict[str, object] = {
        "observedGeneration": 2,
        "replicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 2,
        "conditions": [],
    }
    status.update(
        {key: value for key, value in overrides.items() if key != "replicas_spec" and key != "generation"}
    )
    return {
        "metadata": {"name": "podinfo", "generation": overrides.get("generation", 2)},
        "spec": {"replicas": overrides.get("replicas_spec", 2)},
        "status": status,
    }


def _check(deployment: dict[str, object], *, threshold: int = 100, deadline: int = 600) -> None:
    check_deployment_ready(
        DeploymentState.from_dict(deployment), deadline_seconds=deadline, ready_threshold=threshold, now=NOW
    )


def test_ready() -> None:
    _check(_deployment())


def test_zero_replicas_is_ready() -> None:
    _check(_deployment(replicas_spec=0, replicas=0, updatedReplicas=0, availableReplicas=0))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"generation": 3}, "observed deployment generation less than desired generation"),
        ({"updatedReplicas": 1}, "1 out of 2 new replicas have been updated"),
        ({"replicas": 3}, "1 old replicas are pending termination"),
        ({"availableReplicas": 1}, "1 of 2 (readyThreshold 100%) updated replicas are available"),
    ],
)
def test_waiting_is_retriable(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(NotReadyError) as caught:
        _check(_deployment(**overrides))
    assert str(caught.value) == f"waiting for rollout to finish: {message}"
    assert caught.value.retriable


def test_ready_threshold_50_with_two_of_four() -> None:
    four = _deployment(replicas_spec=4, replicas=4, updatedReplicas=4, availableReplicas=2)
    _check(four, threshold=50)
    with pytest.raises(NotReadyError):
        _check(four, threshold=100)


def test_progress_deadline_exceeded_is_not_retriable() -> None:
    stuck = _deployment(
        availableReplicas=0,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )
    with pytest.raises(NotReadyError) as caught:
        _check(stuck)
    assert str(caught.value) == 'deployment "podinfo" exceeded its progress deadline'
    assert not caught.value.retriable


@pytest.mark.parametrize(("age", "retriable"), [(59, True), (61, False)])
def test_canary_deadline_from_the_available_condition(age: int, retriable: bool) -> None:
    since = (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    unavailable = _deployment(
        availableReplicas=0,
        conditions=[
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "lastUpdateTime": since},
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "lastUpdateTime": since,
            },
        ],
    )
    with pytest.raises(NotReadyError) as caught:
        _check(unavailable, deadline=60)
    assert caught.value.retriable is retriable


def test_old_minimum_replicas_unavailable_without_progressing_condition_stays_retriable() -> None:
    since = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    unavailable = _deployment(
        availableReplicas=0,
        conditions=[
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "lastUpdateTime": since,
            }
        ],
    )
    with pytest.raises(NotReadyError) as caught:
        _check(unavailable, deadline=60)
    assert caught.value.retriable
