"""A reduced-size preview (``flagman.app/preview-replica-count``), one tick at a time with the fakes."""

from __future__ import annotations

from typing import Any

from controller.api import Phase
from controller.api.options import PREVIEW_REPLICAS_ANNOTATION
from controller.rollout.preview import CONDITION
from tests.controller.rollout.fakes import Harness, World, canary_body


def _world(value: str = "1", *, autoscaler: bool = False, iterations: int = 3) -> tuple[World, Harness]:
    body = canary_body(iterations=iterations)
    if not autoscaler:
        del body["spec"]["autoscalerRef"]
    body["metadata"]["annotations"] = {PREVIEW_REPLICAS_ANNOTATION: value}
    world = World(body, full_replicas=3)
    return world, Harness(world)


def _condition(world: World) -> dict[str, Any]:
    return next(c for c in world.body["status"]["conditions"] if c["type"] == CONDITION)


async def test_the_canary_runs_reduced_and_is_full_size_before_the_promotion() -> None:
    world, harness = _world("1")
    await harness.bootstrap()
    world.set_image("podinfo:2")

    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    assert world.target_replicas == 1
    assert world.actions[-1] == "scale-to-1" and "scale-from-zero" not in world.actions
    assert "Preview of podinfo.default with 1 of 3 replicas" in world.messages()
    assert (_condition(world)["status"], _condition(world)["reason"]) == ("True", "Reduced")

    sizes = []
    while world.phase not in (Phase.SUCCEEDED, Phase.FAILED):
        await harness.tick()
        sizes.append((world.phase, world.status.iterations, world.target_replicas))
        if "promote" in world.actions:
            break
    # Iterations 1..3 at one replica; at the last one the canary is scaled up, promoted a tick later.
    assert sizes[:3] == [(Phase.PROGRESSING, i, 1) for i in (1, 2, 3)], sizes
    assert sizes[3] == (Phase.PROGRESSING, 4, 3), sizes
    assert world.actions.index("scale-to-3") < world.actions.index("promote")
    assert "Scaling up podinfo.default from 1 to 3 replicas for promotion" in world.messages()
    assert (_condition(world)["status"], _condition(world)["reason"]) == ("False", "FullSize")


async def test_the_promotion_waits_for_the_full_size_pods() -> None:
    world, harness = _world("1", iterations=1)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(2)  # Progressing, iteration 1
    scaled = world.canary
    world.canary = type(scaled)(
        name="podinfo", generation=2, observed_generation=2, spec_replicas=3, replicas=3, updated_replicas=3,
        available_replicas=1, conditions=scaled.conditions,
    )  # fmt: skip
    await harness.ticks(3)
    assert "promote" not in world.actions, world.messages()
    world.canary = scaled  # every pod ready
    await harness.ticks(2)
    assert "promote" in world.actions


async def test_ignored_with_an_autoscaler_or_a_bad_value() -> None:
    world, harness = _world("1", autoscaler=True)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.tick()
    assert world.target_replicas == 3
    assert (
        "Ignoring the preview replica count option: the HorizontalPodAutoscaler sets the canary's size"
        in world.messages()
    )

    world, harness = _world("0")
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.tick()
    assert world.target_replicas == 3
    assert any(
        m.startswith("Ignoring the preview replica count option: flagman.app/preview-replica-count: '0'")
        for m in world.messages()
    )


async def test_a_count_at_or_above_full_size_changes_nothing() -> None:
    world, harness = _world("5")
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.tick()
    assert world.target_replicas == 3 and "scale-from-zero" in world.actions
    assert all(c["type"] != CONDITION for c in world.body["status"]["conditions"])
