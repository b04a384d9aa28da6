"""Post-promotion analysis (``flagman.app/post-promotion-iterations``), one tick at a time with the fakes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from controller.api import Canary, Phase
from controller.api.options import POST_PROMOTION_ANNOTATION
from controller.rollout.ports import AnalysisResult, Event, Role
from controller.rollout.postpromotion import CONDITION
from controller.rollout.schedule import next_tick_due_now
from tests.controller.rollout.fakes import Harness, World, canary_body
from tests.controller.rollout.test_cutover_warm import FakePrevious

HALT = AnalysisResult(
    passed=False, events=(Event.normal("Halt podinfo.default advancement success rate 50% < 99%"),)
)


def _world(value: str | None = "3", iterations: int = 2) -> tuple[World, Harness]:
    body = canary_body(iterations=iterations)
    if value is not None:
        body["metadata"]["annotations"] = {POST_PROMOTION_ANNOTATION: value}
    world = World(body)
    return world, Harness(world)


async def _promoted(world: World, harness: Harness) -> None:
    """Bootstrap, a new revision, its analysis and the promotion up to Finalising."""
    await harness.bootstrap()
    world.set_image("podinfo:2")
    for _ in range(10):
        await harness.tick()
        if world.phase == Phase.FINALISING:
            return
    raise AssertionError(world.messages())


def _condition(world: World) -> dict[str, Any]:
    return next(c for c in world.body["status"]["conditions"] if c["type"] == CONDITION)


async def test_the_promoted_version_is_checked_m_times_before_succeeded() -> None:
    world, harness = _world("3")
    await _promoted(world, harness)
    analysed = len(world.checked_targets)
    world.take_messages()

    await harness.tick()
    assert world.phase == Phase.FINALISING
    assert world.messages() == [
        "Starting post-promotion analysis for podinfo-primary.default: 3 iterations",
        "Post-promotion analysis of podinfo-primary.default iteration 1/3 passed",
    ]
    condition = _condition(world)
    assert (condition["status"], condition["reason"]) == ("Unknown", "Running")
    assert "1/3 iterations passed, 0 failed checks" in condition["message"]
    assert world.status.iterations == 1
    assert world.target_replicas == 1, "the canary is scaled down only when the release is finalised"

    await harness.ticks(2)
    assert world.phase == Phase.SUCCEEDED
    assert world.checked_targets[analysed:] == ["podinfo-primary"] * 3, "{{ target }} is the primary"
    assert (_condition(world)["status"], _condition(world)["reason"]) == ("True", "Passed")
    assert world.messages()[-1] == "Promotion completed! Scaling down podinfo.default"
    assert world.status.last_promoted_spec == world.status.last_applied_spec
    assert world.target_replicas == 0


async def test_a_failed_post_promotion_analysis_rolls_back_to_the_warm_previous_version() -> None:
    world, harness = _world("5")
    previous = FakePrevious(world)
    harness.ports = dataclasses.replace(harness.ports, previous=previous)
    world.set_image("podinfo:1")
    await _promoted(world, harness)
    assert previous.image == "podinfo:1", "kept at promotion without a scale-down delay"
    promoted_before = world.status.last_promoted_spec
    world.take_messages()
    world.results = [AnalysisResult(passed=True), HALT, HALT]

    await harness.ticks(2)
    assert world.phase == Phase.FINALISING
    assert world.status.failed_checks == 1 and world.status.iterations == 1
    assert previous.kept is not None, "the previous version stays warm during the analysis"
    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.apex_selects == Role.PREVIOUS, "all traffic back on the previous version in one step"
    assert world.primary_image == "podinfo:1", "the primary gets the previous template back"
    messages = world.messages()
    assert (
        "Post-promotion analysis of podinfo-primary.default failed: rolling back to the previous version"
        in messages
    )
    assert any(
        m.startswith("Rolling back podinfo.default to the previous version")
        and m.endswith(": post-promotion analysis failed")
        for m in messages
    ), messages
    assert (_condition(world)["status"], _condition(world)["reason"]) == ("False", "Failed")
    assert world.status.last_promoted_spec == promoted_before, "the failed version was never promoted"
    assert world.target_replicas == 0


async def test_without_a_previous_version_the_rollback_says_the_primary_keeps_the_new_one() -> None:
    world, harness = _world("5")
    await _promoted(world, harness)
    world.take_messages()
    world.results = [HALT, HALT]
    await harness.ticks(2)

    assert world.phase == Phase.FAILED
    messages = world.messages()
    assert any(m.startswith("No previous version of podinfo.default to roll back to") for m in messages)
    assert "Rolling back podinfo.default failed checks threshold reached 2" in messages
    assert world.status.last_promoted_spec == world.status.last_applied_spec, "the primary runs it"


async def test_without_the_option_finalising_is_flaggers() -> None:
    world, harness = _world(None)
    await _promoted(world, harness)
    analysed = world.analysis_runs
    await harness.tick()
    assert world.phase == Phase.SUCCEEDED
    assert world.analysis_runs == analysed
    assert all(c["type"] != CONDITION for c in world.body["status"]["conditions"])


async def test_a_bad_value_is_one_warning_and_flaggers_behaviour() -> None:
    world, harness = _world("soon")
    await _promoted(world, harness)
    world.take_messages()
    await harness.tick()
    assert world.phase == Phase.SUCCEEDED
    assert world.messages()[0] == (
        "Ignoring the post-promotion analysis option: flagman.app/post-promotion-iterations: 'soon' must be"
        " a whole number of iterations from 1 to 1000"
    )


async def test_a_restarted_controller_resumes_the_count() -> None:
    world, harness = _world("3")
    await _promoted(world, harness)
    await harness.tick()
    assert world.status.iterations == 1
    restarted = Harness(world)  # new memory, same stored status
    restarted.clock = harness.clock
    world.take_messages()
    await restarted.tick()
    assert world.messages() == ["Post-promotion analysis of podinfo-primary.default iteration 2/3 passed"]


def test_finalising_waits_an_interval_between_post_promotion_checks() -> None:
    body = canary_body()
    body["status"] = {"phase": "Finalising"}
    assert next_tick_due_now(Canary.from_dict(body), None, datetime.now(UTC)), "Flagger: at once"
    body["metadata"]["annotations"] = {POST_PROMOTION_ANNOTATION: "3"}
    assert not next_tick_due_now(Canary.from_dict(body), None, datetime.now(UTC))
