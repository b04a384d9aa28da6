"""When the next tick runs: the pure rules of `controller.rollout.schedule` and what `advance` reports."""

from __future__ import annotations

from typing import Any

from controller.api import Canary, Phase
from controller.api.canary import analysis_interval_seconds
from controller.rollout import RolloutSettings, advance, schedule
from controller.rollout.readiness import DeploymentState
from controller.rollout.revision import template_hash
from tests.controller.rollout.fakes import START, Harness, World, canary_body, ready_deployment

TEMPLATE: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "v1"}]}}


def _canary(phase: str, **status: Any) -> Canary:
    body = canary_body()
    body["status"] = {"phase": phase, **status}
    return Canary.from_dict(body)


def _not_ready(name: str) -> DeploymentState:
    return DeploymentState(name=name, generation=2, observed_generation=1, spec_replicas=1)


def test_the_interval_defaults_to_60s_and_never_goes_below_the_minimum() -> None:
    assert analysis_interval_seconds("30s", minimum=10) == 30
    assert analysis_interval_seconds("30s", minimum=60) == 60
    assert analysis_interval_seconds("200ms", minimum=0.05) == 0.2
    assert analysis_interval_seconds("", minimum=10) == 60
    assert analysis_interval_seconds(None, minimum=10) == 60
    assert analysis_interval_seconds("soon", minimum=10) == 60


def test_finalising_always_and_promoting_with_a_ready_primary_continue_at_once() -> None:
    ready, not_ready = ready_deployment("podinfo-primary"), _not_ready("podinfo-primary")
    assert schedule.next_tick_due_now(_canary("Finalising"), None, START)
    assert schedule.next_tick_due_now(_canary("Promoting"), ready, START)
    assert not schedule.next_tick_due_now(_canary("Promoting"), not_ready, START)
    assert not schedule.next_tick_due_now(_canary("Promoting"), None, START)
    assert not schedule.next_tick_due_now(_canary("Progressing"), ready, START)
    assert schedule.needs_primary(_canary("Promoting")) and not schedule.needs_primary(_canary("Succeeded"))


def test_a_new_target_revision_wakes_only_a_canary_without_analysis() -> None:
    applied = template_hash(TEMPLATE)
    changed = template_hash({"spec": {"containers": [{"name": "c", "image": "v2"}]}})
    for phase in ("Initialized", "Succeeded", "Failed"):
        canary = _canary(phase, lastAppliedSpec=applied, lastPromotedSpec=applied)
        assert schedule.wakes_on_target(canary, changed), phase
        assert not schedule.wakes_on_target(canary, applied), phase
    assert not schedule.wakes_on_target(_canary("Progressing", lastAppliedSpec=applied), changed)


def test_a_ready_primary_wakes_only_a_promoting_canary() -> None:
    ready = ready_deployment("podinfo-primary")
    assert schedule.wakes_on_primary(_canary("Promoting"), ready, START)
    assert not schedule.wakes_on_primary(_canary("Promoting"), _not_ready("podinfo-primary"), START)
    assert not schedule.wakes_on_primary(_canary("Progressing"), ready, START)


def test_a_canary_watches_its_target_and_primary() -> None:
    assert schedule.watched_deployments(_canary("Succeeded")) == {
        "podinfo": schedule.Watched.TARGET,
        "podinfo-primary": schedule.Watched.PRIMARY,
    }


async def test_each_tick_reports_the_interval_and_whether_the_next_is_due_now() -> None:
    world = World(canary_body(iterations=1, threshold=1))
    world.body["spec"]["analysis"]["interval"] = "15s"
    harness = Harness(world, settings=RolloutSettings(min_analysis_interval=1))
    await harness.bootstrap()
    world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    seen: list[tuple[Phase, bool]] = []
    for _ in range(8):
        outcome = await advance(harness.ref, harness.ports, harness.settings, harness.memory)
        assert outcome.canary is not None and outcome.interval == 15
        seen.append((outcome.canary.status.phase, outcome.due_now))
        if outcome.canary.status.phase == Phase.SUCCEEDED:
            break
    assert (Phase.PROMOTING, True) in seen and (Phase.FINALISING, True) in seen
    assert all(due == (phase in (Phase.PROMOTING, Phase.FINALISING)) for phase, due in seen), seen
    assert seen[-1] == (Phase.SUCCEEDED, False)


async def test_a_promoting_canary_waits_for_its_primary() -> None:
    world = World(canary_body(iterations=1, threshold=1))
    harness = Harness(world)
    await harness.bootstrap()
    world.primary = _not_ready("podinfo-primary")
    world.set_status(phase="Promoting")
    outcome = await advance(harness.ref, harness.ports, harness.settings, harness.memory)
    assert outcome.canary is not None and outcome.canary.status.phase == Phase.PROMOTING
    assert not outcome.due_now


async def test_an_invalid_canary_is_read_again_at_its_own_interval() -> None:
    world = World(canary_body())
    world.body["spec"]["analysis"]["interval"] = "300ms"
    world.body["spec"]["service"]["port"] = 0  # invalid
    harness = Harness(world, settings=RolloutSettings(min_analysis_interval=0.05))
    outcome = await advance(harness.ref, harness.ports, harness.settings, harness.memory)
    assert outcome.canary is None and outcome.interval == 0.3 and not outcome.due_now
