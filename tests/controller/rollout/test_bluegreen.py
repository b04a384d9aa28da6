"""Bootstrap, new revisions and the Blue/Green iterations, tick by tick (Flagger's scheduler tests)."""

from __future__ import annotations

from typing import Any

from controller.api import PROMOTED_CONDITION, Phase
from controller.rollout.ports import Role
from tests.controller.rollout.fakes import Harness, World, canary_body, updating_deployment


async def test_init_creates_primary_services_and_scales_target_down() -> None:
    world = World(canary_body())
    harness = Harness(world)

    await harness.tick()

    assert world.primary_exists
    assert world.services == {"podinfo", "podinfo-canary", "podinfo-primary"}
    assert world.apex_selects == Role.PRIMARY
    assert world.target_replicas == 0
    assert world.actions == ["create-primary", "create-hpa", "apex->primary", "scale-to-zero"]
    status = world.status
    assert status.phase == Phase.INITIALIZED
    assert status.last_applied_spec == status.last_promoted_spec != ""
    condition = status.condition(PROMOTED_CONDITION)
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == (
        "True",
        "Initialized",
        "Deployment initialization completed.",
    )
    assert world.messages() == [
        "all the metrics providers are available!",
        "Initialization done! podinfo.default",
    ]
    assert [alert.message for alert in world.alerts] == ["New Deployment detected, initialization completed."]
    assert world.alerts[0].with_metadata


async def test_init_waits_for_the_primary_to_be_ready() -> None:
    world = World(canary_body(), primary=updating_deployment("podinfo-primary"))
    harness = Harness(world)

    await harness.tick()

    assert world.phase == Phase.INITIALIZING
    assert world.target_replicas == 1, "the target must keep serving until the primary is ready"
    assert world.events[-1] == (
        "Warning",
        "podinfo-primary.default not ready: waiting for rollout to finish: "
        "0 out of 1 new replicas have been updated",
    )

    world.primary = world.canary = world.primary.__class__(
        name="podinfo-primary", generation=2, observed_generation=2, spec_replicas=1, replicas=1,
        updated_replicas=1, available_replicas=1,
    )  # fmt: skip
    await harness.tick()
    assert world.phase == Phase.INITIALIZED
    assert world.target_replicas == 0


async def test_metric_provider_failure_is_reported_but_does_not_stop_bootstrap() -> None:
    world = World(canary_body(), provider_error="prometheus not avaiable: connection refused")
    await Harness(world).tick()
    assert world.events[0] == (
        "Warning",
        "Error checking metric providers: prometheus not avaiable: connection refused",
    )
    assert world.phase == Phase.INITIALIZED


async def test_no_change_means_no_work() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()
    writes = world.status_writes

    await harness.ticks(3)

    assert world.events == []
    assert world.status_writes == writes
    assert world.target_replicas == 0


async def test_new_revision_scales_the_canary_up() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()

    world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.tick()

    assert world.target_replicas == 1
    assert world.phase == Phase.PROGRESSING
    assert world.messages() == ["New revision detected! Scaling up podinfo.default"]
    assert world.event_phases == [Phase.PROGRESSING]
    assert [alert.message for alert in world.alerts][
        -1
    ] == "New revision detected, progressing canary analysis."
    status = world.status
    assert (status.iterations, status.failed_checks, status.canary_weight) == (0, 0, 0)
    assert status.last_applied_spec != status.last_promoted_spec


async def test_tracked_config_change_is_a_new_revision() -> None:
    world = World(canary_body(), configs={"configmap/podinfo-config": "aaaaaaaaaaaaaaaa"})
    harness = Harness(world)
    await harness.bootstrap()
    assert world.status.tracked_configs == {"configmap/podinfo-config": "aaaaaaaaaaaaaaaa"}

    world.configs["configmap/podinfo-config"] = "bbbbbbbbbbbbbbbb"
    await harness.tick()

    assert world.phase == Phase.PROGRESSING
    assert world.status.tracked_configs == {"configmap/podinfo-config": "bbbbbbbbbbbbbbbb"}


async def test_revert_to_the_promoted_revision_starts_nothing() -> None:
    world = World(canary_body())
    harness = Harness(world)
    await harness.bootstrap()
    original = world.image

    world.set_image("podinfo:broken")
    world.set_image(original)
    await harness.tick()

    assert world.phase == Phase.INITIALIZED
    assert world.events == []


async def test_full_blue_green_run_matches_the_tutorial_events() -> None:
    """Tutorial: pre-rollout, 10 iterations, promotion; metrics run N+1 times; canary ends at 0."""
    hooks = [
        {"name": "smoke-test", "type": "pre-rollout", "url": "http://flagger-loadtester.test/"},
        {"name": "load-test", "url": "http://flagger-loadtester.test/"},
        {"name": "notify", "type": "post-rollout", "url": "http://flagger-loadtester.test/"},
    ]
    world = World(canary_body(webhooks=hooks), canary=updating_deployment("podinfo"))
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")

    await harness.tick()  # new revision
    await harness.tick()  # canary pods still rolling out
    from tests.controller.rollout.fakes import ready_deployment

    world.canary = ready_deployment("podinfo")
    phases = []
    for _ in range(12):
        await harness.tick()
        phases.append((world.phase, world.status.iterations))
    assert phases[0] == (Phase.PROGRESSING, 1)
    assert phases[9] == (Phase.PROGRESSING, 10)
    assert phases[10] == (Phase.PROGRESSING, 11)
    assert phases[11] == (Phase.PROMOTING, 11)
    assert world.primary_image == world.image, "Promote copied the template"
    world.primary = updating_deployment("podinfo-primary")
    await harness.tick()
    assert world.phase == Phase.PROMOTING
    from tests.controller.rollout.fakes import ready_deployment as ready

    world.primary = ready("podinfo-primary")
    await harness.tick()
    assert world.phase == Phase.FINALISING
    assert world.target_replicas == 1
    await harness.tick()

    assert world.phase == Phase.SUCCEEDED
    assert world.target_replicas == 0
    assert world.status.last_promoted_spec == world.status.last_applied_spec
    assert world.analysis_runs == 11, "rollout hooks and metrics run N+1 times"
    assert world.promotions == [False]
    expected = [
        "New revision detected! Scaling up podinfo.default",
        "canary deployment podinfo.default not ready: waiting for rollout to finish: "
        "0 out of 1 new replicas have been updated",
        "Starting canary analysis for podinfo.default",
        "Pre-rollout check smoke-test passed",
        *[f"Advance podinfo.default canary iteration {i}/10" for i in range(1, 11)],
        "Copying podinfo.default template spec to podinfo-primary.default",
        "podinfo-primary.default not ready: waiting for rollout to finish: "
        "0 out of 1 new replicas have been updated",
        "Post-rollout check notify passed",
        "Promotion completed! Scaling down podinfo.default",
    ]
    assert world.messages() == expected
    calls = [name for name, _ in world.hook_calls]
    assert calls.count("smoke-test") == 1
    assert calls.count("load-test") == 11
    assert world.hook_calls[-1] == ("notify", Phase.SUCCEEDED)
    assert [alert.message for alert in world.alerts][-1] == (
        "Canary analysis completed successfully, promotion finished."
    )
    condition = world.status.condition(PROMOTED_CONDITION)
    assert condition is not None and (condition.status, condition.reason) == ("True", "Succeeded")


async def test_blue_green_analysis_phases_with_one_iteration() -> None:
    """Flagger's DeploymentBlueGreenAnalysisPhases: Progressing x3 ticks, Promoting, Finalising, Succeeded."""
    world = World(canary_body(iterations=1))
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")

    phases = []
    for _ in range(6):
        await harness.tick()
        phases.append(world.phase)

    assert phases == [
        Phase.PROGRESSING,  # new revision detected
        Phase.PROGRESSING,  # pre-rollout, iteration 0 -> 1
        Phase.PROGRESSING,  # analysis, confirm-promotion, iterations 1 -> 2
        Phase.PROMOTING,
        Phase.FINALISING,
        Phase.SUCCEEDED,
    ]


async def test_zero_iterations_are_treated_as_ten_with_warnings_once() -> None:
    world = World(canary_body(iterations=0, **{}))
    world.body["spec"]["analysis"].pop("iterations")
    world.body["spec"]["analysis"]["stepWeight"] = 10
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(3)

    messages = world.messages()
    assert "Progressive traffic is not supported when using the kubernetes provider" in messages
    assert "Setting canaryAnalysis.iterations: 10" in messages
    assert messages.count("Setting canaryAnalysis.iterations: 10") == 1
    assert "Advance podinfo.default canary iteration 2/10" in messages


async def test_weight_metric_reports_canary_while_iterating() -> None:
    world = World(canary_body(iterations=2))
    harness = Harness(world)
    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(3)
    assert world.weights[-1] == (0, 100)
    assert world.status.canary_weight == 0, "status weight stays 0 for blue/green"


async def test_image_change_while_the_primary_is_created_is_not_lost() -> None:
    """FIX (Flagger has this race): the initial revision is read before the primary is built, so a
    `set image` that lands after the primary copied the old template starts an analysis afterwards,
    instead of being recorded as already promoted."""
    world = World(canary_body())
    harness = Harness(world)
    workloads = harness.ports.workloads
    create_primary = workloads.ensure_primary

    async def create_primary_then_change_target(canary: Any, target: Any) -> None:
        await create_primary(canary, target)
        world.set_image("stefanprodan/podinfo:3.1.1")  # lands right after the primary copied 3.1.0

    workloads.ensure_primary = create_primary_then_change_target  # type: ignore[method-assign]
    await harness.tick()
    assert world.phase == Phase.INITIALIZED
    assert world.primary_image != world.image

    await harness.tick()
    assert world.phase == Phase.PROGRESSING
    assert "New revision detected! Scaling up podinfo.default" in world.messages()
