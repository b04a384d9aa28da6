"""`-no-cross-namespace-refs`: a Canary naming another namespace's MetricTemplate or AlertProvider is
refused at sync time, before anything is created, with Flagger's words (one Warning, Valid=False)."""

from __future__ import annotations

from typing import Any

from controller.api import VALID_CONDITION, Phase
from controller.rollout import RolloutSettings
from tests.controller.rollout.fakes import Harness, World, canary_body

BLOCKED = RolloutSettings(no_cross_namespace_refs=True)


def _body(*, template_ns: str = "", provider_ns: str = "") -> dict[str, Any]:
    body = canary_body(
        metrics=[
            {
                "name": "latency",
                "templateRef": {"name": "latency", "namespace": template_ns},
                "thresholdRange": {"max": 1},
            }
        ]
    )
    body["spec"]["analysis"]["alerts"] = [
        {"name": "on-call", "severity": "error", "providerRef": {"name": "on-call", "namespace": provider_ns}}
    ]
    return body


async def test_cross_namespace_template_and_provider_are_refused_before_anything_is_created() -> None:
    world = World(_body(template_ns="istio-system", provider_ns="flagger-system"))
    harness = Harness(world, settings=BLOCKED)
    await harness.ticks(3)
    expected = (
        "invalid canary spec: can't access metric template latency.istio-system, cross-namespace references"
        " are blocked; can't access alert provider on-call.flagger-system, cross-namespace references are"
        " blocked"
    )
    assert world.events == [("Warning", expected)]  # once, not every tick
    assert world.actions == [] and not world.primary_exists and world.services == set()
    condition = world.status.condition(VALID_CONDITION)
    assert condition is not None and condition.message == expected


async def test_same_namespace_references_pass_and_a_fix_is_picked_up() -> None:
    world = World(_body(template_ns="istio-system"))
    harness = Harness(world, settings=BLOCKED)
    await harness.tick()
    assert not world.primary_exists
    world.body["spec"]["analysis"]["metrics"][0]["templateRef"]["namespace"] = "default"  # the canary's own
    await harness.tick()
    assert world.phase == Phase.INITIALIZED and world.primary_exists


async def test_without_the_flag_other_namespaces_are_allowed() -> None:
    world = World(_body(template_ns="istio-system", provider_ns="flagger-system"))
    await Harness(world).tick()
    assert world.phase == Phase.INITIALIZED
