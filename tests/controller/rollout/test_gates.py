"""Approval gates, manual rollback, suspend, provider check, invalid specs and takeover from Flagger."""

from __future__ import annotations

from typing import Any

from controller.api import VALID_CONDITION, Phase
from controller.rollout import RolloutSettings
from controller.rollout.ports import Role
from tests.controller.rollout.fakes import Harness, World, canary_body


def _hook(name: str, hook_type: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": hook_type, "url": "http://flagger-loadtester.test/gate/check", **extra}


async def test_confirm_rollout_waits_then_scales_up_on_approval() -> None:
    world = World(
        canary_body(webhooks=[_hook("approve", "confirm-rollout")]), hook_answers={"approve": False}
    )
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")

    await harness.ticks(3)

    assert world.phase == Phase.WAITING
    assert world.target_replicas == 0, "the canary stays at zero while waiting"
    assert world.messages() == ["Halt podinfo.default advancement waiting for approval approve"]
    assert [alert.message for alert in world.alerts][-1] == "Canary is waiting for approval."
    assert world.hook_calls == [
        ("approve", Phase.INITIALIZED),
        ("approve", Phase.WAITING),
        ("approve", Phase.WAITING),
    ]
    world.take_messages()

    world.hook_answers["approve"] = True
    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    assert world.target_replicas == 1
    assert world.messages() == [
        "Confirm-rollout check approve passed",
        "New revision detected! Scaling up podinfo.default",
    ]


async def test_confirm_rollout_mute_alert() -> None:
    world = World(
        canary_body(webhooks=[_hook("approve", "confirm-rollout", muteAlert=True)]),
        hook_answers={"approve": False},
    )
    harness = Harness(world)
    await harness.bootstrap()
    alerts = len(world.alerts)
    world.set_image("podinfo:2")
    await harness.tick()
    assert world.phase == Phase.WAITING
    assert len(world.alerts) == alerts


async def test_confirm_promotion_waits_without_oscillating() -> None:
    """Flagger alternated N-1/N, repeating iteration events and (N=1) the pre-rollout hooks."""
    hooks = [_hook("smoke", "pre-rollout"), _hook("promote", "confirm-promotion")]
    world = World(canary_body(iterations=1, webhooks=hooks), hook_answers={"promote": False})
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(2)  # new revision; pre-rollout + iteration 1/1
    world.take_messages()

    await harness.ticks(5)

    assert world.phase == Phase.WAITING_PROMOTION
    assert world.status.iterations == 1
    assert world.messages() == ["Halt podinfo.default advancement waiting for promotion approval promote"]
    assert [name for name, _ in world.hook_calls].count("smoke") == 1, "pre-rollout never re-runs"
    assert world.analysis_runs == 5, "metrics keep running while waiting"
    assert [alert.message for alert in world.alerts][-1] == "Canary promotion is waiting for approval."
    world.take_messages()

    world.hook_answers["promote"] = True
    await harness.tick()
    assert world.status.iterations == 2
    await harness.tick()
    assert world.phase == Phase.PROMOTING
    assert world.messages() == [
        "Confirm-promotion check promote passed",
        "Confirm-promotion check promote passed",
        "Copying podinfo.default template spec to podinfo-primary.default",
    ]
    await harness.ticks(2)
    assert world.phase == Phase.SUCCEEDED


async def test_manual_rollback_webhook_rolls_back_once_signalled() -> None:
    world = World(canary_body(webhooks=[_hook("rollback", "rollback")]), hook_answers={"rollback": False})
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(4)

    assert world.phase == Phase.PROGRESSING
    assert world.messages().count("Rollback hook rollback not signaling a rollback") == 1, "written once"

    world.take_messages()
    world.hook_answers["rollback"] = True
    await harness.tick()

    assert world.phase == Phase.FAILED
    assert world.target_replicas == 0
    assert world.messages() == [
        "Rollback check rollback passed",
        "Rolling back podinfo.default manual webhook invoked",
        "Canary failed! Scaling down podinfo.default",
    ]
    assert world.alerts[-1].message == "Rolling back manual webhook invoked"


async def test_manual_rollback_is_honoured_while_waiting_for_approval() -> None:
    hooks = [_hook("approve", "confirm-rollout"), _hook("rollback", "rollback")]
    world = World(canary_body(webhooks=hooks), hook_answers={"approve": False, "rollback": False})
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(2)
    assert world.phase == Phase.WAITING

    world.hook_answers["rollback"] = True
    await harness.tick()

    assert world.phase == Phase.FAILED
    assert ("rollback", Phase.WAITING) in world.hook_calls
    assert "Rolling back podinfo.default manual webhook invoked" in world.messages()


async def test_suspend_freezes_everything_with_one_event() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(2)
    iterations = world.status.iterations
    world.body["spec"]["suspend"] = True
    world.take_messages()
    world.actions.clear()

    await harness.ticks(3)

    assert world.messages() == ["skipping canary run as object is suspended"]
    assert world.actions == []
    assert world.status.iterations == iterations

    world.body["spec"]["suspend"] = False
    await harness.tick()
    assert world.status.iterations == iterations + 1
    world.body["spec"]["suspend"] = True
    await harness.tick()
    assert world.messages().count("skipping canary run as object is suspended") == 2, "once per suspension"


async def test_unsupported_provider_is_left_alone() -> None:
    world = World(canary_body(provider="istio"))
    harness = Harness(world)

    await harness.ticks(3)

    assert world.messages() == ["provider istio is not supported"]
    assert world.actions == []
    assert not world.primary_exists
    assert "status" not in world.body


async def test_empty_provider_uses_the_mesh_provider_flag() -> None:
    world = World(canary_body(provider=""))
    await Harness(world, settings=RolloutSettings(mesh_provider="linkerd")).tick()
    assert world.messages() == ["provider linkerd is not supported"]

    world = World(canary_body(provider=""))
    await Harness(world).tick()
    assert world.phase == Phase.INITIALIZED


async def test_invalid_canary_gets_one_warning_and_a_condition_and_nothing_else() -> None:
    body = canary_body(webhooks=[{"name": "x", "type": "pre-rollout"}])
    body["spec"]["service"]["port"] = "http"
    world = World(body)
    harness = Harness(world)

    result = await harness.tick()
    await harness.tick()

    assert result is None
    assert len(world.events) == 1
    kind, message = world.events[0]
    assert kind == "Warning"
    assert message.startswith("invalid canary spec: ")
    assert "spec.service.port: must be an integer, got string" in message
    assert "spec.analysis.webhooks[0].url: is required" in message
    condition = world.status.condition(VALID_CONDITION)
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == ("False", "InvalidSpec", message)
    assert world.actions == [] and not world.primary_exists

    # Fixed by the user: the condition goes away and bootstrap runs.
    world.body["spec"]["service"]["port"] = 9898
    world.body["spec"]["analysis"]["webhooks"][0]["url"] = "http://tester/"
    await harness.tick()
    assert world.status.condition(VALID_CONDITION) is None
    assert world.phase == Phase.INITIALIZED


async def test_missing_canary_is_a_log_line() -> None:
    world = World(canary_body())
    harness = Harness(world)
    world.body["metadata"]["name"] = "other"
    from controller.api import CanaryRef
    from controller.rollout import advance

    outcome = await advance(CanaryRef("podinfo", "default"), harness.ports)
    assert outcome.canary is None and outcome.interval == 60
    assert world.logs[-1][1] == "Canary podinfo.default not found"


async def test_selector_error_is_a_warning_every_tick() -> None:
    message = (
        "getSelectorLabel failed: deployment podinfo.default spec.selector.matchLabels "
        "must contain one of [app name app.kubernetes.io/name]"
    )
    world = World(canary_body(), selector_error=message)
    harness = Harness(world)
    await harness.ticks(2)
    assert world.messages() == [message, message]
    assert not world.primary_exists


async def test_status_write_failure_ends_the_tick_and_the_next_tick_retries() -> None:
    world = World(canary_body())
    harness = Harness(world)
    harness.status_store.fail_writes = True
    await harness.tick()
    assert world.events[-1] == ("Warning", "status update failed: the server is unavailable")
    assert "status" not in world.body
    harness.status_store.fail_writes = False
    await harness.tick()
    assert world.phase == Phase.INITIALIZED


async def test_status_written_by_flagger_is_adopted_without_starting_an_analysis() -> None:
    world = World(canary_body())
    world.primary_exists = True
    world.set_status(
        phase="Succeeded",
        lastAppliedSpec="5d8bc7f9d4",
        lastPromotedSpec="5d8bc7f9d4",
        trackedConfigs={},
        conditions=[{"type": "Promoted", "status": "True", "reason": "Succeeded"}],
    )
    harness = Harness(world)

    await harness.tick()

    assert world.phase == Phase.SUCCEEDED
    assert world.events == []
    assert world.status.last_applied_spec.startswith("fm1-")
    assert world.status.last_promoted_spec == world.status.last_applied_spec

    world.set_image("podinfo:2")
    await harness.tick()
    assert world.phase == Phase.PROGRESSING


async def test_apex_selects_primary_during_a_normal_analysis() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(3)
    assert world.apex_selects == Role.PRIMARY


async def test_new_canary_is_marked_initializing_until_the_primary_is_ready() -> None:
    from tests.controller.rollout.fakes import updating_deployment

    world = World(canary_body(), primary=updating_deployment("podinfo-primary"))
    harness = Harness(world)
    await harness.tick()
    assert world.phase == Phase.INITIALIZING
    condition = world.status.condition("Promoted")
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == (
        "Unknown",
        "Initializing",
        "New Deployment detected, starting initialization.",
    )
    assert world.messages() == [
        "all the metrics providers are available!",
        "podinfo-primary.default not ready: waiting for rollout to finish: "
        "0 out of 1 new replicas have been updated",
    ]


async def test_ab_testing_match_is_ignored_with_one_warning() -> None:
    """Flagger's DeploymentABTesting on the kubernetes provider: match ignored, blue/green iterations run."""
    world = World(canary_body(iterations=2))
    world.body["spec"]["analysis"]["match"] = [{"headers": {"x-canary": {"exact": "insider"}}}]
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(7)

    messages = world.messages()
    assert messages.count("A/B testing is not supported when using the kubernetes provider") == 1
    assert world.phase == Phase.SUCCEEDED
    assert world.primary_image == "podinfo:2"


async def test_hook_phases_for_a_gated_run() -> None:
    """events_test TestWebhooks: confirm-rollout sees Initialized, post-rollout sees Succeeded."""
    hooks = [
        _hook("gate", "confirm-rollout"),
        _hook("pre", "pre-rollout"),
        _hook("check", "rollout"),
        _hook("promote", "confirm-promotion"),
        _hook("post", "post-rollout"),
    ]
    world = World(canary_body(iterations=1, webhooks=hooks))
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(6)

    assert world.phase == Phase.SUCCEEDED
    assert world.hook_calls == [
        ("gate", Phase.INITIALIZED),
        ("pre", Phase.PROGRESSING),
        ("check", Phase.PROGRESSING),
        ("promote", Phase.PROGRESSING),
        ("check", Phase.PROGRESSING),
        ("promote", Phase.PROGRESSING),
        ("post", Phase.SUCCEEDED),
    ]


async def test_invalid_canary_is_not_reported_again_after_a_controller_restart() -> None:
    body = canary_body()
    body["spec"]["service"]["port"] = 0
    world = World(body)
    await Harness(world).tick()
    assert len(world.events) == 1
    await Harness(world).tick()  # a fresh controller: new memory
    assert len(world.events) == 1


async def test_one_invalid_canary_does_not_affect_another() -> None:
    bad = canary_body(name="bad")
    bad["spec"]["analysis"]["interval"] = "soon"
    bad_world, good_world = World(bad), World(canary_body(name="good"))
    await Harness(bad_world).tick()
    await Harness(good_world).tick()
    assert bad_world.messages()[0].startswith(
        "invalid canary spec: spec.analysis.interval: time: invalid duration"
    )
    assert good_world.phase == Phase.INITIALIZED


async def test_change_while_waiting_for_promotion_restarts_the_analysis() -> None:
    world = World(canary_body(iterations=1, webhooks=[_hook("promote", "confirm-promotion")]))
    world.hook_answers["promote"] = False
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(3)
    assert world.phase == Phase.WAITING_PROMOTION

    world.set_image("podinfo:3")
    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    assert world.status.iterations == 0
    assert world.messages()[-1] == "New revision detected! Restarting analysis for podinfo.default"


async def test_a_restarted_controller_resumes_from_status_without_repeating_iterations() -> None:
    world = World(canary_body(iterations=3))
    first = Harness(world)
    await first.bootstrap()
    world.set_image("podinfo:2")
    await first.ticks(3)  # new revision, iterations 1 and 2
    assert world.status.iterations == 2

    second = Harness(world)  # a new process: fresh memory, same stored status
    for _ in range(5):
        await second.tick()

    advances = [message for message in world.messages() if message.startswith("Advance")]
    assert advances == [f"Advance podinfo.default canary iteration {i}/3" for i in (1, 2, 3)]
    assert world.messages().count("Copying podinfo.default template spec to podinfo-primary.default") == 1
    assert world.phase == Phase.SUCCEEDED


async def test_terminating_canary_is_left_to_the_finalizer() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()
    world.set_status(phase="Terminating")
    world.set_image("podinfo:2")
    await harness.ticks(2)
    assert world.phase == Phase.TERMINATING
    assert world.events == [] and world.actions == []
