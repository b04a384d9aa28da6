"""Release requests (``kubectl flagman promote|abort|retry|pause``), one tick at a time with the fakes."""

from __future__ import annotations

import copy
from typing import Any

from controller.api import Canary, Phase
from controller.api.options import AUTO_PROMOTION_ANNOTATION
from controller.api.requests import (
    PAUSE_ANNOTATION,
    REQUEST_ANNOTATION,
    REQUEST_CONDITION,
    Action,
    ReleaseRequest,
)
from controller.rollout.actions import awaits_canary_pods, judge, wakes_on_canary
from controller.rollout.ports import AnalysisResult
from tests.controller.rollout.fakes import Harness, World, canary_body


def _annotate(world: World, key: str, value: str, manager: str = "kubectl-flagman") -> None:
    metadata = world.body["metadata"]
    metadata.setdefault("annotations", {})[key] = value
    metadata["managedFields"] = [
        {"manager": "kustomize-controller", "fieldsV1": {"f:spec": {}}},
        {"manager": manager, "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{key}": {}}}}},
    ]


def _request(world: World, action: Action, request_id: str = "r1", revision: str | None = None) -> None:
    revision = revision if revision is not None else world.status.last_applied_spec
    request = ReleaseRequest(action, revision, request_id, "alice", "2026-01-01T00:00:00Z")
    _annotate(world, REQUEST_ANNOTATION, request.to_annotation())


async def _progressing(iterations: int = 10, **world_fields: Any) -> tuple[World, Harness]:
    world = World(canary_body(iterations=iterations), **world_fields)
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(3)  # Progressing, then iterations 1 and 2
    assert world.phase == Phase.PROGRESSING and world.status.iterations == 2, world.messages()
    world.take_messages()
    return world, harness


def _condition(world: World) -> dict[str, Any]:
    return next(c for c in world.body["status"]["conditions"] if c["type"] == REQUEST_CONDITION)


async def test_promote_skips_the_rest_of_the_analysis_once() -> None:
    world, harness = await _progressing()
    _request(world, Action.PROMOTE)

    await harness.tick()

    assert world.phase == Phase.PROMOTING
    assert world.primary_image == "podinfo:2"
    text = (
        "Promotion of podinfo.default requested by alice (via kubectl-flagman): "
        "skipping the rest of the analysis"
    )
    assert world.messages()[0] == text
    assert world.alerts[-1].message.startswith("Promotion requested by alice (via kubectl-flagman)")
    assert _condition(world)["status"] == "True" and _condition(world)["message"].startswith("r1: ")
    await harness.ticks(3)
    assert world.phase == Phase.SUCCEEDED
    assert world.analysis_runs == 1, "no analysis after the request"

    # The same request on the next release is an old one: never honoured again.
    world.take_messages()
    world.set_image("podinfo:3")
    await harness.ticks(3)
    assert world.phase == Phase.PROGRESSING
    assert not any("requested" in message for message in world.messages())


async def test_an_old_promote_never_approves_a_newer_release() -> None:
    world, harness = await _progressing()
    old_revision = world.status.last_applied_spec
    world.set_image("podinfo:3")
    await harness.tick()  # the analysis restarts for podinfo:3
    world.take_messages()
    _request(world, Action.PROMOTE, revision=old_revision)

    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    assert world.primary_image != "podinfo:3"
    ignored = [m for m in world.messages() if m.startswith("Ignoring promote request by alice")]
    assert len(ignored) == 1 and f"made for revision {old_revision}" in ignored[0]
    assert _condition(world)["status"] == "False"
    await harness.tick()
    assert len([m for m in world.messages() if m.startswith("Ignoring")]) == 1, "recorded once"


async def test_promote_waits_for_ready_canary_pods() -> None:
    from tests.controller.rollout.fakes import updating_deployment

    world, harness = await _progressing()
    world.canary = updating_deployment("podinfo")
    _request(world, Action.PROMOTE)
    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    assert any(
        m.startswith("Promotion requested by alice (via kubectl-flagman) waits") for m in world.messages()
    )
    from tests.controller.rollout.fakes import ready_deployment

    # The waiting promote makes a change of the canary's pods wake the loop (not the next interval).
    assert awaits_canary_pods(Canary.from_dict(world.body))
    world.canary = ready_deployment("podinfo")
    await harness.tick()
    assert world.phase == Phase.PROMOTING
    assert not awaits_canary_pods(Canary.from_dict(world.body)), "handled: nothing waits any more"


async def test_abort_rolls_back_now() -> None:
    world, harness = await _progressing()
    _request(world, Action.ABORT)

    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.target_replicas == 0
    assert world.primary_image != "podinfo:2"
    assert world.messages()[:2] == [
        "Rolling back podinfo.default: abort requested by alice (via kubectl-flagman)",
        "Canary failed! Scaling down podinfo.default",
    ]
    assert world.alerts[-1].message == "Rolling back, abort requested by alice (via kubectl-flagman)"
    await harness.ticks(2)
    assert world.phase == Phase.FAILED, "a failed canary stays failed"


async def test_retry_reruns_the_failed_revision_without_a_spec_change() -> None:
    world, harness = await _progressing()
    world.default_result = AnalysisResult(passed=False)
    await harness.ticks(3)
    assert world.phase == Phase.FAILED
    failed_revision = world.status.last_applied_spec
    world.default_result = AnalysisResult(passed=True)
    await harness.ticks(2)
    assert world.phase == Phase.FAILED, "without a request nothing happens"
    world.take_messages()
    _request(world, Action.RETRY)

    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    assert world.status.last_applied_spec == failed_revision
    assert world.status.failed_checks == 0 and world.status.iterations == 0
    assert world.target_replicas == 1
    assert (
        world.messages()[0]
        == "Retrying the analysis of podinfo.default requested by alice (via kubectl-flagman)"
    )
    await harness.ticks(14)
    assert world.phase == Phase.SUCCEEDED
    assert world.primary_image == "podinfo:2"


async def test_retry_is_ignored_unless_failed() -> None:
    world, harness = await _progressing()
    _request(world, Action.RETRY)
    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    assert "Ignoring retry request by alice (via kubectl-flagman): the canary is Progressing, not Failed" in (
        world.messages()
    )


async def test_unreadable_request_is_reported_once() -> None:
    world, harness = await _progressing()
    _annotate(world, REQUEST_ANNOTATION, '{"action": "ship-it"}')
    await harness.ticks(2)
    warnings = [m for m in world.messages() if m.startswith("Ignoring the release request")]
    assert warnings == [
        "Ignoring the release request: flagman.app/request: action must be one of promote, abort, retry, undo"
    ]
    assert world.phase == Phase.PROGRESSING


async def test_requester_falls_back_to_the_field_manager() -> None:
    world, harness = await _progressing()
    request = ReleaseRequest(Action.ABORT, world.status.last_applied_spec, "r9")
    _annotate(world, REQUEST_ANNOTATION, request.to_annotation(), manager="argocd-controller")
    await harness.tick()
    assert world.messages()[0] == "Rolling back podinfo.default: abort requested by argocd-controller"


async def test_pause_suspends_until_resumed() -> None:
    world, harness = await _progressing()
    _annotate(world, PAUSE_ANNOTATION, '{"requestedBy": "bob"}')
    await harness.ticks(3)
    assert world.status.iterations == 2, "no iteration while paused"
    assert world.messages() == ["skipping canary run as object is paused by bob"]
    del world.body["metadata"]["annotations"][PAUSE_ANNOTATION]
    await harness.tick()
    assert world.status.iterations == 3


def test_judge() -> None:
    promote = ReleaseRequest(Action.PROMOTE, "fm1-a", "x")
    assert judge(promote, Phase.WAITING_PROMOTION, "fm1-a", "fm1-a").act
    assert not judge(promote, Phase.SUCCEEDED, "fm1-a", "fm1-a").act
    stale = judge(promote, Phase.PROGRESSING, "fm1-a", "fm1-b")
    assert (stale.act, stale.reason) == (False, "it was made for revision fm1-a, the canary is at fm1-b")
    assert not judge(promote, Phase.PROGRESSING, "fm1-b", "fm1-b").act
    assert judge(ReleaseRequest(Action.ABORT, "fm1-a", "x"), Phase.WAITING, "fm1-a", "fm1-a").act


async def test_a_new_request_wakes_the_loop_once() -> None:
    world, harness = await _progressing()
    _request(world, Action.ABORT)
    before = Canary.from_dict(world.body)
    assert wakes_on_canary(world.body, before)
    assert not wakes_on_canary(world.body, None), "no loop, nothing to wake"
    late_event = copy.deepcopy(world.body)
    await harness.tick()
    after = Canary.from_dict(world.body)
    assert not wakes_on_canary(world.body, after)
    assert not wakes_on_canary(late_event, after), "an event from before the handling tick"


def _gated(auto: str | None) -> tuple[World, Harness]:
    hook = {
        "name": "approve",
        "type": "confirm-promotion",
        "url": "http://flagger-loadtester.test/gate/check",
    }
    world = World(canary_body(iterations=2, webhooks=[hook]), hook_answers={"approve": False})
    if auto is not None:
        _annotate(world, AUTO_PROMOTION_ANNOTATION, auto, manager="kustomize-controller")
    return world, Harness(world)


async def test_auto_promotion_after_the_gate_stayed_closed() -> None:
    world, harness = _gated("60")
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(4)  # Progressing, iterations 1 and 2, then the gate closes
    assert world.phase == Phase.WAITING_PROMOTION
    await harness.tick(30)  # 30 s in WaitingPromotion
    assert world.phase == Phase.WAITING_PROMOTION
    await harness.ticks(4)
    assert world.phase == Phase.SUCCEEDED, world.messages()
    assert world.primary_image == "podinfo:2"
    auto = [m for m in world.messages() if m.startswith("Auto-promotion")]
    assert auto == ["Auto-promotion of podinfo.default after 60s waiting for promotion approval"]


async def test_without_the_option_the_gate_waits_forever() -> None:
    world, harness = _gated(None)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(20)
    assert world.phase == Phase.WAITING_PROMOTION


async def test_an_unusable_auto_promotion_value_is_reported_once() -> None:
    world, harness = _gated("5m")
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(8)
    assert world.phase == Phase.WAITING_PROMOTION
    warnings = [m for m in world.messages() if m.startswith("Ignoring the auto-promotion option")]
    assert warnings == [
        "Ignoring the auto-promotion option: flagman.app/auto-promotion-seconds: '5m' must be a whole number"
        " of seconds from 1 to 604800"
    ]
