"""One tick of one canary: Flagger's ``advanceCanary`` for Deployments on the kubernetes provider.

The numbered comments follow the exact order of spec section 2.2. Deliberate differences from Flagger
(its defects, spec 10) are marked ``FIX`` and listed in docs/compatibility.md.

The tick observes and acts only through :class:`~controller.rollout.ports.Ports`; a step that fails
records a Warning event with the error text and ends the tick (the next tick starts over, Flagger's
level-based style). Status is written after every transition, so a controller restarted in the middle
of an analysis resumes from the stored status without repeating an iteration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from controller.api import VALID_CONDITION, Canary, CanaryRef, CanaryStatus, Phase
from controller.api.canary import ParsedSpec, analysis_interval_seconds
from controller.api.crossrefs import cross_namespace_refs
from controller.errors import CanaryValidationError, FlagmanError, NotFoundError, NotReadyError
from controller.rollout import (
    actions,
    finalizer,
    gates,
    outcomes,
    postpromotion,
    preview,
    schedule,
    transitions,
    warm,
)
from controller.rollout.context import RolloutSettings, StopTick, TickContext, TickMemory
from controller.rollout.ports import AlertSeverity, Event, LogLevel, Ports, Role
from controller.rollout.revision import has_target_changed, have_configs_changed, is_foreign_hash
from controller.rollout.schedule import TickOutcome

__all__ = ["RolloutSettings", "TickMemory", "TickOutcome", "advance"]

SUPPORTED_PROVIDERS = frozenset({"", "kubernetes"})
KUBERNETES_DEFAULT_ITERATIONS = 10

_INITIALIZING = frozenset({Phase.NONE, Phase.INITIALIZING})
_ADVANCING = frozenset(
    {Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}
)
_IN_ANALYSIS = frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING})
_PROMOTION = frozenset({Phase.PROMOTING, Phase.FINALISING})


async def advance(
    ref: CanaryRef,
    ports: Ports,
    settings: RolloutSettings | None = None,
    memory: TickMemory | None = None,
) -> TickOutcome:
    """Run one tick for the Canary ``ref``; return the Canary as it is after the tick and when the next
    tick is due (:mod:`controller.rollout.schedule`).

    The Canary is None when it is gone or invalid. Never raises :class:`FlagmanError`: every failure
    becomes an event or a log line. ``memory`` should be kept per canary between ticks.
    """
    settings = settings or RolloutSettings()
    memory = memory if memory is not None else TickMemory()
    minimum = settings.min_analysis_interval
    # 0. Read the Canary (the status port may serve it from a watch cache).
    try:
        body = await ports.status.get(ref)
    except NotFoundError:
        ports.recorder.log(ref, LogLevel.INFO, f"Canary {ref.key} not found")
        return TickOutcome(None, analysis_interval_seconds(None, minimum))
    except FlagmanError as error:
        ports.recorder.log(ref, LogLevel.ERROR, f"Canary {ref.key} get query error: {error}")
        return TickOutcome(None, analysis_interval_seconds(None, minimum))
    try:
        canary = Canary.from_dict(body, memory.parsed_spec)
        if memory.parsed_spec is None or memory.parsed_spec.spec is not canary.spec:
            memory.parsed_spec = ParsedSpec.of(body, canary)
        # Flagger refuses such a Canary at sync time: nothing is created, no template or secret is read.
        if settings.no_cross_namespace_refs and (blocked := cross_namespace_refs(canary)):
            raise CanaryValidationError(blocked)
    except CanaryValidationError as error:
        await _report_invalid(ports, memory, ref, body, error)
        # An invalid Canary is re-read at its own interval, so that a fix is picked up as usual.
        raw_interval = ((body.get("spec") or {}).get("analysis") or {}).get("interval")
        return TickOutcome(None, analysis_interval_seconds(raw_interval, minimum))
    memory.forget("invalid")
    ctx = TickContext(ports, settings, memory, canary)
    with contextlib.suppress(StopTick):
        await _tick(ctx)
    return TickOutcome(
        ctx.canary, ctx.canary.analysis.interval_seconds(minimum), await next_tick_due_now(ctx.canary, ports)
    )


async def next_tick_due_now(canary: Canary, ports: Ports) -> bool:
    """`schedule.next_tick_due_now` with the primary read through the ports (only while Promoting)."""
    primary = None
    if schedule.needs_primary(canary):
        with contextlib.suppress(FlagmanError):
            primary = await ports.workloads.deployment(canary, Role.PRIMARY)
    return schedule.next_tick_due_now(canary, primary, ports.clock.now())


async def _report_invalid(
    ports: Ports, memory: TickMemory, ref: CanaryRef, body: Mapping[str, Any], error: CanaryValidationError
) -> None:
    """An unusable spec: one Warning event and a ``Valid=False`` condition; nothing else is touched."""
    message = str(error)
    if not memory.first_time("invalid", message):
        return
    ref = CanaryRef.from_body(body) if body else ref
    status = CanaryStatus.from_dict(body.get("status"), [])
    recorded = status.condition(VALID_CONDITION)
    if recorded is not None and recorded.message == message:
        return  # already reported, e.g. before a controller restart
    await ports.recorder.event(ref, Event.warning(message))
    updated = transitions.with_valid_condition(status, message, transitions.format_time(ports.clock.now()))
    try:
        await ports.status.write(ref, updated)
    except FlagmanError as write_error:
        ports.recorder.log(ref, LogLevel.ERROR, f"status update failed: {write_error}")


async def _tick(ctx: TickContext) -> None:
    canary = ctx.canary
    ports = ctx.ports
    if ctx.status.condition(VALID_CONDITION) is not None:
        stamp = transitions.format_time(ports.clock.now())
        await ctx.write(transitions.with_valid_condition(ctx.status, None, stamp))

    # revertOnDeletion: the finalizer follows the field; a Canary being deleted is finalized, nothing else.
    await finalizer.reconcile_finalizer(ctx)
    # A Terminating canary (deletion aborted, or Flagger's status) is left alone by the analysis loop.
    if ctx.phase in (Phase.TERMINATING, Phase.TERMINATED):
        raise StopTick

    # 1. Suspended: nothing is reconciled. FIX: the event is written once per suspension.
    await _stop_if_suspended(ctx)
    ctx.memory.forget("suspend")

    # 2. Provider: only the kubernetes provider is implemented; other canaries are left untouched.
    provider = canary.spec.provider or ctx.settings.mesh_provider
    if provider not in SUPPORTED_PROVIDERS:
        if ctx.memory.first_time("provider", provider):
            await ctx.emit(Event.warning(f"provider {provider} is not supported"))
        raise StopTick
    ctx.memory.forget("provider")

    # Flagger's sync handler: a new Canary is marked Initializing before anything is created.
    if ctx.phase == Phase.NONE and not ctx.status.conditions:
        await ctx.set_phase(Phase.INITIALIZING)

    # 3. Target metadata (selector label, discovered ports).
    try:
        target = await ports.workloads.discover(canary)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    ctx.target = target

    # 4. Canary and primary Services.
    try:
        await ports.router.initialize(canary, target)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)

    initializing = ctx.phase in _INITIALIZING
    skip = canary.skip_analysis

    # 5. Metric providers availability (an event only).
    if not skip and initializing:
        try:
            await ports.metrics.check_providers(canary)
        except FlagmanError as error:
            await ctx.emit(Event.error(f"Error checking metric providers: {error}"))
        else:
            await ctx.emit(Event.normal("all the metrics providers are available!"))

    # 6. Primary Deployment (created when absent, in any phase); wait for it while initializing.
    # FIX: the initial revision is read before the primary copies the target, so a change landing in
    # between starts an analysis later instead of being recorded as promoted (Flagger's race).
    if initializing:
        await ctx.revision()
    try:
        await ports.workloads.ensure_primary(canary, target)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    if initializing and not skip:
        await _wait_for(ctx, Role.PRIMARY)

    # 7. Primary autoscaler (created when missing, never updated here).
    try:
        await ports.workloads.ensure_primary_autoscaler(canary, target, update=False)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)

    # 8. Apex Service. FIX: after a failed promotion it selects the canary pods. Flagman: during a
    # promotion with the selector switch too, and the previous version's after an instant rollback.
    await ctx.route_apex(warm.apex_role(ctx))

    # 9. The target goes to zero once the apex serves the primary.
    if initializing:
        ctx.log(f"Scaling down {canary.target_kind} {canary.target_key}")
        try:
            await ports.workloads.scale_to_zero(canary)
        except FlagmanError as error:
            await ctx.warn_and_stop(
                f"scaling down canary {canary.target_kind} {canary.target_key} failed: {error}"
            )

    # 10. Mesh router: nothing for the kubernetes provider.

    # 11. Bootstrap done.
    if initializing:
        await ctx.sync_status(Phase.INITIALIZED)
        ports.telemetry.canary_status(ctx.canary, Phase.INITIALIZED)
        await ctx.emit(Event.normal(f"Initialization done! {canary.key}"))
        await ctx.alert(
            f"New {canary.target_kind} detected, initialization completed.",
            AlertSeverity.INFO,
            with_metadata=True,
        )
    await _adopt_foreign_hash(ctx)

    # Flagman: the warm previous version (restore after an instant rollback, or scale-down delay over).
    await warm.reconcile(ctx)

    # Flagman: a release request (`kubectl flagman promote|abort|retry|undo`) bound to this revision.
    if await actions.honour(ctx):
        raise StopTick

    # 12. Anything to do? FIX: a Failed canary's status is not rewritten here (Flagger wrote the new
    # hash before the checks below, so a change made while they failed was silently absorbed).
    if ctx.phase not in _ADVANCING and not await _has_changed(ctx):
        ports.telemetry.canary_status(ctx.canary, ctx.phase)
        raise StopTick

    # 13. Primary readiness. FIX: not while the apex serves the canary pods after a failed promotion
    # (the broken primary serves nothing; gating on it would roll back every fix).
    if not skip and (ctx.phase in _PROMOTION or not ctx.apex_on_canary()):
        await _wait_for(ctx, Role.PRIMARY)

    # 14. Routes: the kubernetes provider reports canary 100 while iterations > 0.
    canary_routed = 100 if ctx.status.iterations > 0 or ctx.apex_on_canary() else 0
    ports.telemetry.canary_weights(ctx.canary, primary=100 - canary_routed, canary_weight=canary_routed)

    # 15. New revision: confirm-rollout gate, scale the canary up, Progressing. Ends the tick.
    ports.telemetry.canary_status(ctx.canary, ctx.phase)
    if ctx.phase not in _IN_ANALYSIS:
        await _start_new_revision(ctx)
        raise StopTick

    # 16. A change during the analysis restarts it (no alert, no confirm-rollout, no re-scale).
    if ctx.phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION) and await _has_changed(ctx):
        await ctx.emit(Event.normal(f"New revision detected! Restarting analysis for {canary.target_key}"))
        await ctx.sync_status(Phase.PROGRESSING, canary_weight=ctx.carried_weight())
        raise StopTick

    # 17. Canary readiness.
    await _wait_for(ctx, Role.CANARY)

    # 18. skipAnalysis: promote at once.
    if skip:
        await outcomes.skip_analysis_promotion(ctx)
        raise StopTick

    # 19. Manual rollback webhooks.
    if ctx.phase in (Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION):
        hook = await gates.rollback_requested(ctx)
        if hook is not None:
            await outcomes.manual_rollback(ctx, hook)
            raise StopTick

    # 20. Promoting and the primary is ready (step 13): Finalising.
    if ctx.phase == Phase.PROMOTING:
        await outcomes.finish_promotion(ctx)
        raise StopTick

    # 21. Finalising: the canary goes to zero, Succeeded. Flagman: after the post-promotion analysis.
    if ctx.phase == Phase.FINALISING:
        if await postpromotion.verifying(ctx):
            raise StopTick
        await outcomes.finalise(ctx)
        raise StopTick

    # 22. Threshold reached.
    if ctx.status.failed_checks >= canary.analysis.effective_threshold:
        await outcomes.rollback(ctx)
        raise StopTick

    # 23. From here the tick duration is observed.
    started = ports.clock.monotonic()
    try:
        await _analyse_and_iterate(ctx)
    finally:
        ports.telemetry.tick_duration(ctx.canary, ports.clock.monotonic() - started)


async def _stop_if_suspended(ctx: TickContext) -> None:
    """``spec.suspend``, or Flagman's ``kubectl flagman pause`` (an annotation, so GitOps keeps it)."""
    paused_by = actions.paused_by(ctx.canary)
    if ctx.canary.spec.suspend:
        state, message = "suspended", "skipping canary run as object is suspended"
    elif paused_by is not None:
        who = paused_by or "an unknown user"
        state, message = f"paused:{who}", f"skipping canary run as object is paused by {who}"
    else:
        return
    if ctx.memory.first_time("suspend", state):
        await ctx.emit(Event.normal(message))
    raise StopTick


async def _wait_for(ctx: TickContext, role: Role) -> None:
    """Steps 6, 13 and 17: stop the tick while ``role`` is not ready; past a deadline, give up."""
    try:
        await ctx.readiness(role)
    except NotReadyError as error:
        await ctx.emit(Event.warning(str(error)))
        if not error.retriable:
            if role == Role.PRIMARY and ctx.phase in _PROMOTION:
                await outcomes.failed_promotion(ctx, error)
            else:
                await outcomes.rollback(ctx, deadline_error=error)
        raise StopTick from error


async def _adopt_foreign_hash(ctx: TickContext) -> None:
    """A status written by Go Flagger: trust it for the running template and switch to our hash."""
    status = ctx.status
    if not is_foreign_hash(status.last_applied_spec):
        return
    revision = await ctx.revision()
    promoted = status.last_promoted_spec
    if promoted == status.last_applied_spec:
        promoted = revision.spec_hash
    ctx.log(f"Adopting the status written by Flagger for {ctx.canary.key}")
    await ctx.write(status.replace(last_applied_spec=revision.spec_hash, last_promoted_spec=promoted))


async def _has_changed(ctx: TickContext) -> bool:
    """A new revision: target template (unless reverted to the promoted one) or tracked configs."""
    revision = await ctx.revision()
    status = ctx.status
    if has_target_changed(revision.spec_hash, status.last_applied_spec, status.last_promoted_spec):
        return True
    return have_configs_changed(revision.tracked_configs, status.tracked_configs)


async def _start_new_revision(ctx: TickContext) -> None:
    """Step 15 for Initialized, Succeeded, Failed and Waiting."""
    canary = ctx.canary
    if ctx.phase == Phase.WAITING:
        # FIX: rollback webhooks are honoured while waiting for approval, as Flagger documents.
        hook = await gates.rollback_requested(ctx)
        if hook is not None:
            await outcomes.manual_rollback(ctx, hook)
            return
    if not await gates.confirm_rollout(ctx):
        return
    await ctx.emit(
        Event.normal(f"New revision detected! Scaling up {canary.target_key}", phase=Phase.PROGRESSING)
    )
    await ctx.alert(
        "New revision detected, progressing canary analysis.", AlertSeverity.INFO, with_metadata=True
    )
    try:
        await preview.scale_up(ctx)  # Flagman: `flagman.app/preview-replica-count` (else scale_from_zero)
    except FlagmanError as error:
        await ctx.emit(Event.error(str(error)))
        raise StopTick from error
    await ctx.sync_status(Phase.PROGRESSING, canary_weight=ctx.carried_weight())
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.PROGRESSING)


async def _analyse_and_iterate(ctx: TickContext) -> None:
    canary = ctx.canary
    # 24. First analysis tick: pre-rollout hooks; later ticks: rollout hooks and metrics.
    if ctx.status.iterations == 0:
        await ctx.emit(Event.normal(f"Starting canary analysis for {canary.target_key}"))
        passed = await gates.pre_rollout(ctx)
    else:
        passed = await gates.analysis_passes(ctx)
    if not passed:
        await ctx.set_fields(failed_checks=ctx.status.failed_checks + 1)
        return

    # 25. Kubernetes provider adjustments (in memory only). FIX: warned once per revision.
    iterations = canary.analysis.iterations
    adjustments: list[str] = []
    if canary.analysis.match:
        adjustments.append("A/B testing is not supported when using the kubernetes provider")
    if iterations < 1:
        adjustments.append("Progressive traffic is not supported when using the kubernetes provider")
        adjustments.append(f"Setting canaryAnalysis.iterations: {KUBERNETES_DEFAULT_ITERATIONS}")
        iterations = KUBERNETES_DEFAULT_ITERATIONS
    if adjustments and ctx.memory.first_time("kubernetes-adjustments", ctx.status.last_applied_spec):
        for message in adjustments:
            await ctx.emit(Event.warning(message))

    # 26. Blue/Green.
    await _blue_green(ctx, iterations)


async def _blue_green(ctx: TickContext, iterations: int) -> None:
    """Spec 2.6: iterations 1..N, then confirm-promotion at N and N+1, then promote."""
    done = ctx.status.iterations
    if iterations > done:
        await ctx.set_fields(iterations=done + 1)
        await ctx.emit(Event.normal(f"Advance {ctx.canary.key} canary iteration {done + 1}/{iterations}"))
        return
    # Flagman: a closed gate gives way after `flagman.app/auto-promotion-seconds` (Argo Rollouts').
    if not await gates.confirm_promotion(ctx) and not await actions.auto_promote(ctx):
        return
    if iterations == done:
        await ctx.set_fields(iterations=iterations + 1)
        await preview.scale_to_full(ctx)  # Flagman: ready by the promotion tick
        return
    await outcomes.promote(ctx)
