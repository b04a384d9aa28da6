"""``revertOnDeletion`` tick by tick: the finalizer follows the field; deletion reverts, then lets go."""

from __future__ import annotations

from controller.api import Phase
from controller.rollout.finalizer import FINALIZER
from tests.controller.rollout.fakes import Harness, World, canary_body, updating_deployment


def _finalizers(world: World) -> list[str]:
    return list(world.body["metadata"].get("finalizers") or [])


def _delete(world: World) -> None:
    world.body["metadata"]["deletionTimestamp"] = "2026-01-01T12:05:00Z"


async def test_no_finalizer_without_the_field() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.ticks(2)
    assert _finalizers(world) == []
    _delete(world)
    await harness.tick()
    assert "revert" not in world.actions and world.phase == Phase.INITIALIZED


async def test_finalizer_added_then_removed_when_the_field_is_turned_off() -> None:
    world = World(canary_body(revertOnDeletion=True))
    harness = Harness(world)
    world.body["metadata"]["finalizers"] = ["example.com/keep"]
    await harness.tick()
    assert _finalizers(world) == ["example.com/keep", FINALIZER]
    await harness.tick()
    assert world.actions.count("finalizer added") == 1
    world.body["spec"]["revertOnDeletion"] = False
    await harness.tick()
    assert _finalizers(world) == ["example.com/keep"]
    assert "podinfo.default opting out, deleting finalizers" in [message for _, message in world.logs]


async def test_deletion_reverts_the_target_and_the_apex_then_removes_the_finalizer() -> None:
    world = World(canary_body(revertOnDeletion=True))
    harness = Harness(world)
    await harness.bootstrap()
    assert world.target_replicas == 0 and _finalizers(world) == [FINALIZER]
    _delete(world)
    world.canary = updating_deployment("podinfo")  # the target rolls its pods back in
    await harness.tick()
    assert world.phase == Phase.TERMINATING
    assert world.actions == ["revert"] and world.target_replicas == 1
    assert world.take_messages() == [
        "Terminating canary podinfo.default",
        "canary not ready during finalizing: canary deployment podinfo.default not ready: "
        "waiting for rollout to finish: 0 out of 1 new replicas have been updated",
    ]
    assert _finalizers(world) == [FINALIZER]  # not yet: the target is not ready
    world.canary = World(canary_body()).canary  # ready
    await harness.tick()
    assert world.actions == ["revert", "revert", "apex->target", "finalizer removed"]
    assert world.phase == Phase.TERMINATED
    assert _finalizers(world) == []
    assert world.take_messages() == ["Terminated canary podinfo.default"]


async def test_a_failed_revert_is_retried_and_the_finalizer_kept() -> None:
    world = World(canary_body(revertOnDeletion=True))
    harness = Harness(world)
    await harness.bootstrap()
    _delete(world)
    world.revert_error = 'deployments.apps "podinfo" is forbidden'
    await harness.tick()
    assert _finalizers(world) == [FINALIZER]
    assert world.take_messages()[-1] == 'failed to revert target: deployments.apps "podinfo" is forbidden'
    world.revert_error = ""
    await harness.tick()
    assert _finalizers(world) == [] and world.phase == Phase.TERMINATED


async def test_deletion_after_opting_out_removes_the_finalizer_without_reverting() -> None:
    world = World(canary_body(revertOnDeletion=True))
    harness = Harness(world)
    await harness.bootstrap()
    world.body["spec"]["revertOnDeletion"] = False
    _delete(world)
    await harness.tick()
    assert world.actions == ["finalizer removed"] and world.target_replicas == 0
