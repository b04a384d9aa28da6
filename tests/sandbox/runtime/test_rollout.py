"""The Deployment controller's arithmetic on plain objects: scaling plans and status conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sandbox.runtime.rollout import (
    deployment_status,
    int_or_percent,
    plan_scaling,
    rolling_budget,
    template_hash,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def deployment(
    replicas: int = 4, generation: int = 1, status: dict[str, Any] | None = None, **spec: Any
) -> Any:
    return {
        "metadata": {"name": "app", "generation": generation},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "a"}}}, **spec},
        "status": status or {},
    }


def replica_set(name: str, spec: int, replicas: int, available: int, created: str = "2026") -> Any:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"replicas": spec},
        "status": {"replicas": replicas, "readyReplicas": available, "availableReplicas": available},
    }


def test_template_hash_is_stable_and_name_safe() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x:1"}]}}
    same = {"spec": {"containers": [{"image": "x:1"}]}, "metadata": {"labels": {"app": "a"}}}
    assert template_hash(template) == template_hash(same)
    assert template_hash(template) != template_hash({**template, "spec": {"containers": [{"image": "x:2"}]}})
    assert template_hash(template).isalnum() and len(template_hash(template)) == 10


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [("25%", 4, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0), (2, 10, False, 2), (None, 4, True, 0)],
)
def test_int_or_percent(value: Any, total: int, round_up: bool, expected: int) -> None:
    assert int_or_percent(value, total, round_up) == expected


def test_budget_never_zero_zero() -> None:
    budget = rolling_budget(
        deployment(replicas=1, strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    )
    assert (budget.surge, budget.unavailable) == (0, 1)


def test_rolling_update_surges_first_then_scales_old_down() -> None:
    dep = deployment(replicas=4)
    new = replica_set("new", 0, 0, 0)
    old = replica_set("old", 4, 4, 4)
    assert plan_scaling(dep, new, [old]) == {"new": 1, "old": 3}  # 25% surge and 25% unavailable
    new = replica_set("new", 1, 1, 1)
    old = replica_set("old", 3, 3, 3)
    assert plan_scaling(dep, new, [old]) == {"new": 2, "old": 2}


def test_unhealthy_old_replicas_go_first() -> None:
    dep = deployment(replicas=2, strategy={"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}})
    new = replica_set("new", 1, 1, 0)
    old = replica_set("old", 2, 2, 0)
    assert plan_scaling(dep, new, [old]) == {"old": 1}


def test_scale_to_zero_scales_everything_down() -> None:
    dep = deployment(replicas=0)
    new = replica_set("new", 2, 2, 2)
    assert plan_scaling(dep, new, []) == {"new": 0}


def test_recreate_waits_for_old_pods_to_go() -> None:
    dep = deployment(replicas=2, strategy={"type": "Recreate"})
    new = replica_set("new", 0, 0, 0)
    assert plan_scaling(dep, new, [replica_set("old", 2, 2, 2)]) == {"old": 0}
    assert plan_scaling(dep, new, [replica_set("old", 0, 1, 0)]) == {}
    assert plan_scaling(dep, new, [replica_set("old", 0, 0, 0)]) == {"new": 2}


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_complete_rollout_reports_new_replica_set_available() -> None:
    dep = deployment(replicas=2, generation=3)
    result = deployment_status(dep, replica_set("new", 2, 2, 2), [], False, T0)
    status = result.status
    assert status["observedGeneration"] == 3
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (2, 2, 2)
    assert status["unavailableReplicas"] == 0
    assert conditions(status)["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions(status)["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert result.recheck_after is None


def test_stalled_rollout_exceeds_its_progress_deadline() -> None:
    dep = deployment(replicas=1, progressDeadlineSeconds=30)
    stuck = replica_set("new", 1, 1, 0)
    first = deployment_status(dep, stuck, [], True, T0)
    assert conditions(first.status)["Progressing"]["reason"] == "NewReplicaSetCreated"
    assert conditions(first.status)["Available"]["reason"] == "MinimumReplicasUnavailable"
    assert first.recheck_after == 30

    dep["status"] = first.status
    dep["status"]["observedGeneration"] = 1
    waiting = deployment_status(dep, stuck, [], False, T0 + dt.timedelta(seconds=10))
    assert conditions(waiting.status)["Progressing"]["status"] == "True"
    assert waiting.recheck_after == pytest.approx(20)

    dep["status"] = waiting.status
    late = deployment_status(dep, stuck, [], False, T0 + dt.timedelta(seconds=31))
    progressing = conditions(late.status)["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    # The Available condition keeps its timestamps while it stays False: Flagger measures from them.
    assert conditions(late.status)["Available"]["lastUpdateTime"] == "2026-01-01T00:00:00Z"


def test_idle_complete_deployment_never_times_out_but_a_stalled_scale_up_does() -> None:
    """As in Kubernetes: the deadline runs whenever the Progressing condition says ReplicaSetUpdated."""
    dep = deployment(replicas=1, progressDeadlineSeconds=1)
    done = deployment_status(dep, replica_set("new", 1, 1, 1), [], False, T0)
    dep["status"] = done.status
    idle = deployment_status(dep, replica_set("new", 1, 1, 1), [], False, T0 + dt.timedelta(seconds=60))
    assert conditions(idle.status)["Progressing"]["reason"] == "NewReplicaSetAvailable"

    dep["spec"]["replicas"] = 2
    scaling = deployment_status(dep, replica_set("new", 2, 2, 1), [], False, T0 + dt.timedelta(seconds=60))
    assert conditions(scaling.status)["Progressing"]["reason"] == "ReplicaSetUpdated"
    dep["status"] = scaling.status
    stalled = deployment_status(dep, replica_set("new", 2, 2, 1), [], False, T0 + dt.timedelta(seconds=62))
    assert conditions(stalled.status)["Progressing"]["reason"] == "ProgressDeadlineExceeded"
