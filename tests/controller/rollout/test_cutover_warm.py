"""The selector switch at promotion and the warm previous version with its instant rollback, one tick at
a time with the fakes (``controller/rollout/cutover.py``, ``controller/rollout/warm.py``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from controller.api import Canary, Phase
from controller.api.bluegreen_options import (
    ROLLBACK_CONDITION,
    SCALE_DOWN_DELAY_ANNOTATION,
    SELECTOR_SWITCH_ANNOTATION,
)
from controller.api.requests import REQUEST_ANNOTATION, Action, ReleaseRequest
from controller.rollout.ports import DeploymentState, PreviousState, Role, Target
from tests.controller.rollout.fakes import Harness, World, canary_body, ready_deployment, updating_deployment


class FakePrevious:
    """``{target}-previous``: remembers the primary's image when kept; restoring gives it back."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.kept: PreviousState | None = None
        self.image = ""

    async def keep(self, canary: Canary, target: Target, revision: str) -> None:
        self.kept = PreviousState(ready_deployment("podinfo-previous"), revision)
        self.image = self.world.primary_image
        self.world.actions.append(f"keep-previous:{self.image}")

    async def state(self, canary: Canary) -> PreviousState | None:
        return self.kept

    async def restore_primary(self, canary: Canary, target: Target) -> None:
        if self.world.primary_image != self.image:
            self.world.primary_image = self.image
            self.world.primary = updating_deployment("podinfo-primary")
            self.world.actions.append(f"restore-primary:{self.image}")

    async def scale_down(self, canary: Canary) -> None:
        self.kept = None
        self.world.actions.append("scale-down-previous")

    def set_workload(self, workload: DeploymentState) -> None:
        assert self.kept is not None
        self.kept = dataclasses.replace(self.kept, workload=workload)


def _annotate(world: World, **annotations: str) -> None:
    world.body["metadata"].setdefault("annotations", {}).update(annotations)


async def _analysed(**annotations: str) -> tuple[World, Harness, FakePrevious]:
    """Bootstrapped at podinfo:1, podinfo:2 analysed to the end (the next tick promotes)."""
    world = World(canary_body(iterations=2))
    _annotate(world, **annotations)
    harness = Harness(world)
    previous = FakePrevious(world)
    harness.ports = dataclasses.replace(harness.ports, previous=previous)
    world.set_image("podinfo:1")
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(4)  # Progressing, iterations 1 and 2, then N+1 (confirm-promotion passed)
    assert world.phase == Phase.PROGRESSING and world.status.iterations == 3, world.messages()
    world.take_messages()
    world.actions.clear()
    return world, harness, previous


def _undo(world: World, request_id: str = "u1") -> None:
    request = ReleaseRequest(Action.UNDO, world.status.last_applied_spec, request_id, "alice")
    _annotate(world, **{REQUEST_ANNOTATION: request.to_annotation()})


def _condition(world: World, kind: str) -> dict[str, Any] | None:
    return next((c for c in world.body["status"].get("conditions", []) if c["type"] == kind), None)


async def test_selector_switch_serves_green_while_the_primary_updates() -> None:
    world, harness, _ = await _analysed(**{SELECTOR_SWITCH_ANNOTATION: "true"})
    await harness.tick(1)
    assert world.phase == Phase.PROMOTING
    assert world.actions[:2] == ["apex->canary", "promote"], world.actions
    assert world.status.canary_weight == 100
    assert world.messages()[0] == (
        "Switching podinfo.default to the canary pods of podinfo.default while podinfo-primary is updated"
    )

    # The primary's rolling update: the apex stays on the verified canary pods, tick after tick.
    world.primary = updating_deployment("podinfo-primary")
    await harness.ticks(3)
    assert world.apex_selects == Role.CANARY and world.phase == Phase.PROMOTING
    # Half the replicas ready would do for primaryReadyThreshold, not for the switch back.
    world.primary = dataclasses.replace(ready_deployment("podinfo-primary", 2), available_replicas=1)
    world.canary = ready_deployment("podinfo", 2)
    await harness.ticks(2)
    assert world.apex_selects == Role.CANARY, world.actions

    world.primary = ready_deployment("podinfo-primary", 2)
    await harness.tick(1)
    assert world.phase == Phase.FINALISING and world.apex_selects == Role.PRIMARY
    await harness.tick(1)
    assert world.phase == Phase.SUCCEEDED
    moves = [a for a in world.actions if a.startswith("apex->") or a in ("promote", "scale-to-zero")]
    assert moves == ["apex->canary", "promote", "apex->primary", "scale-to-zero"]
    assert "Switched podinfo.default back to podinfo-primary" in world.messages()


async def test_without_the_switch_the_primary_is_updated_in_place_as_in_flagger() -> None:
    world, harness, _ = await _analysed()
    await harness.ticks(5)
    assert world.phase == Phase.SUCCEEDED
    assert not any(a.startswith("apex->") for a in world.actions), world.actions


async def test_a_bad_option_value_is_reported_once_and_ignored() -> None:
    world, harness, previous = await _analysed(
        **{SELECTOR_SWITCH_ANNOTATION: "sometimes", SCALE_DOWN_DELAY_ANNOTATION: "-5"}
    )
    await harness.ticks(5)
    assert world.phase == Phase.SUCCEEDED
    warnings = [m for m in world.messages() if m.startswith("Ignoring the")]
    assert warnings == [
        "Ignoring the scale-down delay option: flagman.app/scale-down-delay-seconds: '-5' must be a whole"
        " number of seconds from 1 to 604800",
        "Ignoring the selector switch option: flagman.app/selector-switch: 'sometimes' must be true or false",
    ]
    assert previous.kept is None and not any(a.startswith("apex->") for a in world.actions)


async def test_undo_moves_traffic_to_the_warm_previous_version_then_restores_the_primary() -> None:
    world, harness, previous = await _analysed(
        **{SELECTOR_SWITCH_ANNOTATION: "true", SCALE_DOWN_DELAY_ANNOTATION: "600"}
    )
    promoted_before = world.status.last_promoted_spec
    await harness.ticks(4)
    assert world.phase == Phase.SUCCEEDED
    assert world.actions[0] == "keep-previous:podinfo:1", "kept before the primary changed"
    assert previous.kept is not None and previous.kept.revision == promoted_before
    assert world.primary_image == "podinfo:2"

    # Within the delay: nothing is scaled down; undo moves the apex in the tick that handles it.
    await harness.tick(300)
    world.actions.clear()
    world.take_messages()
    _undo(world)
    await harness.tick(1)
    assert world.apex_selects == Role.PREVIOUS
    assert world.actions[0] == "apex->previous" and "restore-primary:podinfo:1" in world.actions
    assert world.phase == Phase.FAILED
    assert world.status.last_promoted_spec == promoted_before
    assert (_condition(world, ROLLBACK_CONDITION) or {}).get("reason") == "Restoring"
    assert world.messages()[0] == (
        f"Rolling back podinfo.default to the previous version {promoted_before}: undo requested by alice"
    )
    request = _condition(world, "ReleaseRequest") or {}
    assert request["status"] == "True" and request["message"].startswith("u1: Undo of podinfo.default")

    # The primary rolls back while the previous version serves; the apex returns once it is ready.
    await harness.ticks(2)
    assert world.apex_selects == Role.PREVIOUS and previous.kept is not None
    world.primary = ready_deployment("podinfo-primary")
    await harness.tick(1)
    assert world.apex_selects == Role.PRIMARY and previous.kept is None
    assert (_condition(world, ROLLBACK_CONDITION) or {}).get("reason") == "Restored"
    # Failed for podinfo:2: no new analysis until the target changes.
    world.actions.clear()
    await harness.ticks(3)
    assert world.phase == Phase.FAILED and not world.actions


async def test_the_previous_version_goes_after_the_delay() -> None:
    world, harness, previous = await _analysed(**{SCALE_DOWN_DELAY_ANNOTATION: "60"})
    for _ in range(4):
        await harness.tick(1)
    assert world.phase == Phase.SUCCEEDED and previous.kept is not None
    await harness.tick(30)
    await harness.tick(28)
    assert previous.kept is not None, "58 s after Succeeded"
    await harness.tick(1)
    await harness.tick(1)
    assert previous.kept is None
    _undo(world)
    await harness.tick(1)
    assert world.phase == Phase.SUCCEEDED
    assert world.messages()[-1] == (
        "Ignoring undo request by alice: the previous version is no longer kept"
        " (its scale-down delay is over)"
    )


async def test_undo_without_the_option_is_ignored_and_waits_for_starting_pods() -> None:
    world, harness, previous = await _analysed()
    await harness.ticks(4)
    _undo(world)
    await harness.tick(1)
    assert world.messages()[-1] == (
        "Ignoring undo request by alice: no previous version is kept"
        " (flagman.app/scale-down-delay-seconds is not set)"
    )

    world, harness, previous = await _analysed(**{SCALE_DOWN_DELAY_ANNOTATION: "600"})
    await harness.ticks(4)
    previous.set_workload(updating_deployment("podinfo-previous"))
    _undo(world)
    await harness.ticks(2)
    assert world.phase == Phase.SUCCEEDED
    waits = [m for m in world.messages() if m.startswith("Undo requested by alice waits")]
    assert len(waits) == 1, world.messages()
    previous.set_workload(ready_deployment("podinfo-previous"))
    await harness.tick(1)
    assert world.phase == Phase.FAILED and world.apex_selects == Role.PREVIOUS
