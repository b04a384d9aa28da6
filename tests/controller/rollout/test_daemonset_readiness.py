"""Flagger's ``isDaemonSetReady``: updated pods, the ready threshold, and the Canary's deadline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from controller.errors import NotReadyError
from controller.rollout.readiness import DaemonSetState, check_daemonset_ready

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _check(state: DaemonSetState, *, threshold: int = 100, since: datetime | None = NOW) -> None:
    check_daemonset_ready(state, deadline_seconds=60, ready_threshold=threshold, now=NOW, since=since)


def test_from_dict_reads_the_status_fields() -> None:
    state = DaemonSetState.from_dict(
        {
            "metadata": {"name": "podinfo-ds", "generation": 3},
            "status": {"observedGeneration": 3, "desiredNumberScheduled": 4, "updatedNumberScheduled": 2,
                       "numberAvailable": 1, "numberReady": 1},
        }
    )  # fmt: skip
    assert state == DaemonSetState("podinfo-ds", 3, 3, 4, 2, 1)


def test_scaled_to_zero_and_fully_rolled_out_are_ready() -> None:
    _check(DaemonSetState("ds", 2, 2, 0, 0, 0))  # the scale-to-zero nodeSelector: nothing scheduled
    _check(DaemonSetState("ds", 2, 2, 3, 3, 3))


@pytest.mark.parametrize(
    ("state", "threshold", "message"),
    [
        (DaemonSetState("ds", 3, 2, 1, 1, 1), 100,
         "waiting for rollout to finish: observed daemonset generation less than desired generation"),
        (DaemonSetState("ds", 2, 2, 3, 1, 3), 100,
         "waiting for rollout to finish: 1 out of 3 new pods have been updated"),
        (DaemonSetState("ds", 2, 2, 4, 4, 1), 50,
         "waiting for rollout to finish: 1 of 2 (readyThreshold 50%) updated pods are available"),
    ],
)  # fmt: skip
def test_not_ready_is_retriable_within_the_deadline(
    state: DaemonSetState, threshold: int, message: str
) -> None:
    with pytest.raises(NotReadyError, match=re.escape(message)) as caught:
        _check(state, threshold=threshold)
    assert caught.value.retriable


def test_the_threshold_rounds_down_as_flaggers_int32_conversion() -> None:
    _check(DaemonSetState("ds", 2, 2, 3, 3, 1), threshold=50)  # int(3 * 0.5) = 1


def test_past_the_canary_deadline_not_ready_is_final() -> None:
    with pytest.raises(NotReadyError, match="exceeded its progressDeadlineSeconds: 60") as caught:
        _check(DaemonSetState("ds", 2, 2, 3, 1, 1), since=NOW - timedelta(seconds=61))
    assert not caught.value.retriable
