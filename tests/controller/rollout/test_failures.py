"""Rollback, failed promotion, deadlines, restarts and skipAnalysis, tick by tick."""

from __future__ import annotations

from datetime import timedelta

from controller.api import PROMOTED_CONDITION, Phase
from controller.rollout.ports import AnalysisResult, Event, Role
from controller.rollout.readiness import DeploymentCondition, DeploymentState
from tests.controller.rollout.fakes import (
    START,
    Harness,
    World,
    canary_body,
    ready_deployment,
    stuck_deployment,
    updating_deployment,
)

HALT_1 = "Halt podinfo.default advancement success rate 69.17% < 99%"
HALT_2 = "Halt podinfo.default advancement success rate 61.39% < 99%"


async def _progressing(world: World, harness: Harness, *, iterations_done: int = 0) -> None:
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.tick()
    for _ in range(iterations_done):
        await harness.tick()
    world.take_messages()
    world.actions.clear()


async def _failed_after_one_halt() -> tuple[World, Harness]:
    """A canary with threshold 1 that failed its first check during a rollout and rolled back."""
    world = World(canary_body(threshold=1))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=1)
    world.default_result = AnalysisResult(passed=False)
    await harness.ticks(2)
    assert world.phase == Phase.FAILED
    return world, harness


async def test_two_halts_then_rollback_keeps_failed_checks_visible() -> None:
    """The tutorial's failure: two Halt events, rollback, Failed, canary at 0, Failed Checks: 2."""
    hooks = [{"name": "rollback-notice", "type": "post-rollout", "url": "http://tester/"}]
    world = World(canary_body(threshold=2, webhooks=hooks))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=3)  # pre-rollout + iteration 1, then 2, 3
    assert world.status.iterations == 3
    world.results = [
        AnalysisResult(passed=False, events=(Event.warning(HALT_1),)),
        AnalysisResult(passed=False, events=(Event.warning(HALT_2),)),
    ]

    await harness.ticks(3)

    assert world.phase == Phase.FAILED
    assert world.status.failed_checks == 2
    assert world.target_replicas == 0
    assert world.apex_selects == Role.PRIMARY
    assert world.messages() == [
        HALT_1,
        HALT_2,
        "Rolling back podinfo.default failed checks threshold reached 2",
        "Canary failed! Scaling down podinfo.default",
        "Post-rollout check rollback-notice passed",
    ]
    assert world.events[2][0] == world.events[3][0] == "Warning"
    assert world.hook_calls[-1] == ("rollback-notice", Phase.FAILED)
    assert world.failures == 1
    assert [alert.message for alert in world.alerts][-1] == "Failed checks threshold reached 2"
    condition = world.status.condition(PROMOTED_CONDITION)
    assert condition is not None
    assert (condition.status, condition.message) == (
        "False",
        "Canary analysis failed, Deployment scaled to zero.",
    )

    # Failed is stable: no repeated events and no status writes every tick.
    writes = world.status_writes
    world.take_messages()
    await harness.ticks(3)
    assert world.events == []
    assert world.status_writes == writes


async def test_failed_canary_retries_on_the_next_revision() -> None:
    world, harness = await _failed_after_one_halt()

    world.default_result = AnalysisResult(passed=True)
    world.set_image("podinfo:3")
    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    assert world.status.failed_checks == 0
    assert world.target_replicas == 1


async def test_failed_phase_revision_is_not_absorbed_while_primary_is_busy() -> None:
    """Flagger rewrote lastAppliedSpec in Failed before checking the primary; the revision got lost."""
    world, harness = await _failed_after_one_halt()
    world.default_result = AnalysisResult(passed=True)

    world.primary = updating_deployment("podinfo-primary")
    world.set_image("podinfo:3")
    await harness.tick()
    assert world.phase == Phase.FAILED
    world.primary = ready_deployment("podinfo-primary")
    await harness.tick()

    assert world.phase == Phase.PROGRESSING


async def test_rollback_at_threshold_even_before_the_next_check() -> None:
    """Flagger's DeploymentRollback: Progressing with failedChecks == threshold rolls back."""
    world = World(canary_body(threshold=10))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=2)
    world.set_status(failedChecks=10)

    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.analysis_runs == 1, "the analysis is not run once the threshold is reached"


async def test_pre_rollout_failure_counts_a_failed_check() -> None:
    hooks = [{"name": "smoke", "type": "pre-rollout", "url": "http://tester/"}]
    world = World(canary_body(threshold=2, webhooks=hooks), hook_answers={"smoke": "exit status 1"})
    harness = Harness(world)
    await _progressing(world, harness)

    await harness.tick()
    assert world.status.failed_checks == 1
    assert world.status.iterations == 0
    assert world.messages() == [
        "Starting canary analysis for podinfo.default",
        "Halt podinfo.default advancement pre-rollout check smoke failed exit status 1",
    ]
    await harness.ticks(2)
    assert world.phase == Phase.FAILED


async def test_rollout_hook_failure_halts_before_metrics() -> None:
    hooks = [{"name": "load-test", "url": "http://tester/"}]
    world = World(canary_body(webhooks=hooks))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=1)
    world.hook_answers["load-test"] = "connection refused"

    await harness.tick()

    assert world.messages() == [
        "Halt podinfo.default advancement external check load-test failed connection refused"
    ]
    assert world.analysis_runs == 0
    assert world.status.failed_checks == 1


async def test_metric_errors_and_no_data_are_failed_checks_with_their_messages() -> None:
    world = World(canary_body(threshold=5))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=1)
    no_data = (
        "Halt advancement no values found for kubernetes metric request-success-rate probably "
        "podinfo.default is not receiving traffic: no values found"
    )
    template_error = "Metric template not-found-percentage.test query render error: bad template"
    world.results = [
        AnalysisResult(passed=False, events=(Event.warning(no_data),)),
        AnalysisResult(passed=False, events=(Event.error(template_error),)),
        AnalysisResult(
            passed=False, events=(Event.warning("Halt podinfo.default advancement 404s percentage 6.20 > 5"),)
        ),
        AnalysisResult(
            passed=False,
            events=(Event.warning("Halt podinfo.default advancement request duration 1.515s > 500ms"),),
        ),
    ]

    await harness.ticks(4)

    assert world.status.failed_checks == 4
    assert world.messages() == [
        no_data,
        template_error,
        "Halt podinfo.default advancement 404s percentage 6.20 > 5",
        "Halt podinfo.default advancement request duration 1.515s > 500ms",
    ]
    assert world.status.iterations == 1, "failed checks do not advance iterations"


async def test_change_during_analysis_restarts_it() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=3)
    world.set_status(failedChecks=1)
    assert world.status.iterations == 3
    scale_ups = world.actions.count("scale-from-zero")
    alerts = len(world.alerts)

    world.set_image("podinfo:3")
    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    status = world.status
    assert (status.iterations, status.failed_checks) == (0, 0)
    assert world.messages() == ["New revision detected! Restarting analysis for podinfo.default"]
    assert len(world.alerts) == alerts, "a restart sends no alert"
    assert world.actions.count("scale-from-zero") == scale_ups
    await harness.tick()
    assert world.messages()[-2:] == [
        "Starting canary analysis for podinfo.default",
        "Advance podinfo.default canary iteration 1/10",
    ]


async def test_canary_progress_deadline_rolls_back_and_says_so() -> None:
    """The Canary's deadline: MinimumReplicasUnavailable for longer than progressDeadlineSeconds (60)."""
    world = World(canary_body())
    harness = Harness(world)
    await _progressing(world, harness)
    since = harness.clock.now()
    world.canary = DeploymentState(
        name="podinfo",
        generation=3,
        observed_generation=3,
        spec_replicas=1,
        replicas=1,
        updated_replicas=1,
        available_replicas=0,
        conditions=(
            DeploymentCondition("Progressing", "True", "ReplicaSetUpdated", since),
            DeploymentCondition("Available", "False", "MinimumReplicasUnavailable", since),
        ),
    )
    waiting = (
        "canary deployment podinfo.default not ready: waiting for rollout to finish: "
        "0 of 1 (readyThreshold 100%) updated replicas are available"
    )

    await harness.tick(seconds=30)
    assert world.phase == Phase.PROGRESSING
    assert world.messages() == [waiting]
    await harness.tick(seconds=31)  # 30 s after: still inside the deadline
    assert world.phase == Phase.PROGRESSING
    world.take_messages()

    await harness.tick()  # 61 s after the condition: deadline passed

    assert world.phase == Phase.FAILED
    assert world.target_replicas == 0
    assert world.messages() == [
        waiting,
        f"Rolling back podinfo.default progress deadline exceeded {waiting}",
        "Canary failed! Scaling down podinfo.default",
    ]
    assert world.alerts[-1].message == f"Progress deadline exceeded {waiting}"


async def test_deployment_progress_deadline_rolls_back_immediately() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await _progressing(world, harness)
    world.canary = stuck_deployment("podinfo", harness.clock.now())

    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.messages()[0] == (
        'canary deployment podinfo.default not ready: deployment "podinfo" exceeded its progress deadline'
    )
    assert world.messages()[1].startswith("Rolling back podinfo.default progress deadline exceeded")


async def test_failed_promotion_routes_the_apex_to_the_canary() -> None:
    """Flagger's DeploymentPromotionPrimaryNotReady, with the apex switch that makes weight 100 true."""
    hooks = [{"name": "notify", "type": "post-rollout", "url": "http://tester/"}]
    world = World(canary_body(iterations=1, webhooks=hooks))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=3)
    assert world.phase == Phase.PROMOTING
    world.primary = stuck_deployment("podinfo-primary", START)

    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.status.canary_weight == 100
    assert world.target_replicas == 1, "the canary is not scaled down on a failed promotion"
    assert world.apex_selects == Role.CANARY
    not_ready = (
        'podinfo-primary.default not ready: deployment "podinfo-primary" exceeded its progress deadline'
    )
    assert world.messages() == [
        not_ready,
        f"Promotion of podinfo.default failed, primary not ready: {not_ready}",
        "Post-rollout check notify passed",
    ]
    assert world.hook_calls[-1] == ("notify", Phase.FAILED)
    assert world.weights[-1] == (0, 100)

    # Later ticks keep the apex on the canary pods, without new events.
    world.take_messages()
    await harness.ticks(2)
    assert world.apex_selects == Role.CANARY
    assert world.events == []


async def test_failed_promotion_from_finalising_then_next_promotion_resets_the_apex() -> None:
    """While the primary stays broken, the next revision is analysed (not rolled back at once) and
    promoted; the apex returns to the primary only once the primary is ready again."""
    world = World(canary_body(iterations=1))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=4)
    assert world.phase == Phase.FINALISING
    world.primary = stuck_deployment("podinfo-primary", START)
    await harness.tick()
    assert (world.phase, world.status.canary_weight, world.apex_selects) == (Phase.FAILED, 100, Role.CANARY)

    world.set_image("podinfo:3")
    for _ in range(4):
        await harness.tick()
    assert world.phase == Phase.PROMOTING, world.messages()
    assert world.apex_selects == Role.CANARY
    world.primary = updating_deployment("podinfo-primary")  # the new template restarts the rollout
    await harness.tick()
    assert world.phase == Phase.PROMOTING, "waits for the primary rollout"
    world.primary = ready_deployment("podinfo-primary")
    await harness.tick()
    assert world.phase == Phase.FINALISING
    await harness.tick()
    assert world.apex_selects == Role.PRIMARY
    assert world.phase == Phase.SUCCEEDED
    assert world.status.canary_weight == 0
    assert not any(action.startswith("OUTAGE") for action in world.actions)


async def test_rollback_after_failed_promotion_gives_the_apex_back_first() -> None:
    world = World(canary_body(iterations=1, threshold=1))
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=4)
    world.primary = stuck_deployment("podinfo-primary", START)
    await harness.tick()
    assert world.apex_selects == Role.CANARY

    world.set_image("podinfo:3")
    world.default_result = AnalysisResult(passed=False)
    await harness.ticks(4)

    assert world.phase == Phase.FAILED
    assert world.status.canary_weight == 0
    assert world.apex_selects == Role.PRIMARY
    assert world.target_replicas == 0
    assert not any(action.startswith("OUTAGE") for action in world.actions)


async def test_promotion_copies_template_and_configs() -> None:
    """Flagger's DeploymentPromotion: config and secret changes travel with the promotion."""
    world = World(
        canary_body(iterations=1),
        configs={
            "configmap/podinfo-config-env": "1111111111111111",
            "secret/podinfo-secret-env": "2222222222222222",
        },
    )
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    world.configs["configmap/podinfo-config-env"] = "3333333333333333"
    world.configs["secret/podinfo-secret-env"] = "4444444444444444"

    phases = []
    for _ in range(6):
        await harness.tick()
        phases.append(world.phase)

    assert phases[-3:] == [Phase.PROMOTING, Phase.FINALISING, Phase.SUCCEEDED]
    assert world.primary_image == "podinfo:2"
    assert world.primary_configs == world.configs
    assert world.status.tracked_configs == world.configs


async def test_state_transition_metrics() -> None:
    """scheduler_metrics_test: status 1 after init, 0 while progressing, 2 after rollback."""
    world = World(canary_body(threshold=1))
    harness = Harness(world)
    await harness.tick()
    assert world.status_metric[-1] == Phase.INITIALIZED
    world.set_image("podinfo:2")
    await harness.ticks(2)
    assert world.status_metric[-1] == Phase.PROGRESSING
    assert all(primary + canary == 100 for primary, canary in world.weights)
    world.default_result = AnalysisResult(passed=False)
    await harness.ticks(2)
    assert world.status_metric[-1] == Phase.FAILED
    assert world.weights[-1] == (100, 0)
    assert world.failures == 1


async def test_primary_deadline_outside_promotion_rolls_back() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await _progressing(world, harness, iterations_done=1)
    world.primary = stuck_deployment("podinfo-primary", START)

    await harness.tick()

    assert world.phase == Phase.FAILED
    assert any(
        message.startswith("Rolling back podinfo.default progress deadline exceeded")
        for message in world.messages()
    )


async def test_skip_analysis_promotes_once_the_canary_is_ready() -> None:
    world = World(canary_body(skipAnalysis=True), canary=updating_deployment("podinfo"))
    harness = Harness(world)
    await harness.tick()
    assert world.phase == Phase.INITIALIZED
    assert "all the metrics providers are available!" not in world.messages()
    world.take_messages()

    world.set_image("podinfo:2")
    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    await harness.tick()
    assert world.phase == Phase.PROGRESSING, "waits for the canary pods"
    world.canary = ready_deployment("podinfo")
    await harness.tick()

    assert world.phase == Phase.SUCCEEDED
    assert world.target_replicas == 0
    assert world.primary_image == "podinfo:2"
    assert world.promotions == [True]
    assert world.analysis_runs == 0
    assert world.messages()[-2:] == [
        "Copying podinfo.default template spec to podinfo-primary.default",
        "Promotion completed! Canary analysis was skipped for podinfo.default",
    ]
    assert world.alerts[-1].message == "Canary analysis was skipped, promotion finished."


async def test_lasttransitiontime_is_the_last_status_write() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.tick()
    assert world.status.last_transition_time == "2026-01-01T12:00:00Z"
    harness.clock.advance(90)
    world.set_image("podinfo:2")
    await harness.tick()
    assert world.status.last_transition_time == (START + timedelta(seconds=120)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
