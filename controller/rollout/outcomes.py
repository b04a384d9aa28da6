"""How an analysis ends: promotion, finalisation, rollback, failed promotion, skip-analysis promotion."""

from __future__ import annotations

from controller.api import Phase, Webhook
from controller.errors import FlagmanError, NotReadyError
from controller.rollout import cutover, preview, warm
from controller.rollout.context import TickContext
from controller.rollout.gates import post_rollout
from controller.rollout.ports import AlertSeverity, Event, Role


def copying_message(ctx: TickContext) -> str:
    canary = ctx.canary
    return f"Copying {canary.target_key} template spec to {canary.target_name}-primary.{canary.namespace}"


async def promote(ctx: TickContext) -> None:
    """Analysis passed: copy the template to the primary; Promoting waits for its rolling update."""
    assert ctx.target is not None
    await preview.ensure_full_size(ctx)  # Flagman: a reduced canary is scaled up first
    # Flagman options: the version being replaced is kept warm; the apex moves to the verified canary pods.
    await warm.keep_previous(ctx)
    await cutover.switch_to_canary(ctx)
    await ctx.emit(Event.normal(copying_message(ctx)))
    try:
        await ctx.ports.workloads.promote(ctx.canary, ctx.target)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await ctx.set_phase(Phase.PROMOTING)


async def finish_promotion(ctx: TickContext) -> None:
    """Promoting, primary ready: sync the primary autoscaler, then Finalising."""
    assert ctx.target is not None
    try:
        await ctx.ports.workloads.ensure_primary_autoscaler(ctx.canary, ctx.target, update=True)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    if await cutover.enabled(ctx):
        await cutover.switch_back_to_primary(ctx)
    await ctx.set_phase(Phase.FINALISING)


async def finalise(ctx: TickContext) -> None:
    """Finalising: the apex serves the primary again, the canary goes to zero, Succeeded."""
    canary = ctx.canary
    try:
        await ctx.ports.workloads.scale_to_zero(canary)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await _succeeded(
        ctx,
        skipped=False,
        message=f"Promotion completed! Scaling down {canary.target_key}",
        alert="Canary analysis completed successfully, promotion finished.",
    )


async def skip_analysis_promotion(ctx: TickContext) -> None:
    """skipAnalysis: promote, scale the canary down at once (no wait for the primary), Succeeded."""
    assert ctx.target is not None
    await preview.ensure_full_size(ctx)
    canary = ctx.canary
    await ctx.emit(Event.normal(copying_message(ctx)))
    try:
        await ctx.ports.workloads.promote(canary, ctx.target)
        await ctx.ports.workloads.ensure_primary_autoscaler(canary, ctx.target, update=True)
        await ctx.apex_back_to_primary()
        await ctx.ports.workloads.scale_to_zero(canary)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await _succeeded(
        ctx,
        skipped=True,
        message=f"Promotion completed! Canary analysis was skipped for {canary.target_key}",
        alert="Canary analysis was skipped, promotion finished.",
    )


async def _succeeded(ctx: TickContext, *, skipped: bool, message: str, alert: str) -> None:
    """The end of every promotion: Succeeded, its metrics, the post-rollout hooks, the event and alert."""
    await ctx.set_phase(Phase.SUCCEEDED)
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.SUCCEEDED)
    ctx.ports.telemetry.promotion(ctx.canary, skipped=skipped)
    await post_rollout(ctx)
    await ctx.emit(Event.normal(message))
    await ctx.alert(alert, AlertSeverity.INFO)


async def manual_rollback(ctx: TickContext, hook: Webhook) -> None:
    await ctx.emit(Event.warning(f"Rollback check {hook.name} passed"))
    await ctx.emit(Event.warning(f"Rolling back {ctx.canary.key} manual webhook invoked"))
    await ctx.alert("Rolling back manual webhook invoked", AlertSeverity.WARN)
    await rollback(ctx)


async def rollback(ctx: TickContext, *, deadline_error: NotReadyError | None = None) -> None:
    """Spec 2.9. FIX: failedChecks stays visible, and deadline-driven rollbacks say so."""
    canary = ctx.canary
    failed_checks = ctx.status.failed_checks
    if failed_checks >= canary.analysis.effective_threshold:
        await ctx.emit(
            Event.warning(f"Rolling back {canary.key} failed checks threshold reached {failed_checks}")
        )
        await ctx.alert(f"Failed checks threshold reached {failed_checks}", AlertSeverity.ERROR)
    elif deadline_error is not None:
        await ctx.emit(
            Event.warning(f"Rolling back {canary.key} progress deadline exceeded {deadline_error}")
        )
        await ctx.alert(f"Progress deadline exceeded {deadline_error}", AlertSeverity.ERROR)
    await ctx.emit(Event.warning(f"Canary failed! Scaling down {canary.key}", phase=Phase.FAILED))
    await ctx.apex_back_to_primary()
    ctx.ports.telemetry.canary_weights(canary, primary=100, canary_weight=0)
    try:
        await ctx.ports.workloads.scale_to_zero(canary)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await ctx.sync_status(Phase.FAILED, failed_checks=failed_checks)
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.FAILED)
    ctx.ports.telemetry.failure(ctx.canary)
    await post_rollout(ctx)


async def failed_promotion(ctx: TickContext, error: NotReadyError) -> None:
    """Spec 2.8. FIX: the apex Service is pointed at the canary pods, so ``canaryWeight: 100`` is true.

    The canary is not scaled down: its pods passed the analysis and now serve the traffic.
    """
    canary = ctx.canary
    await ctx.emit(Event.warning(f"Promotion of {canary.target_key} failed, primary not ready: {error}"))
    await ctx.alert(f"Promotion failed, primary not ready: {error}", AlertSeverity.ERROR)
    ctx.ports.telemetry.canary_weights(canary, primary=0, canary_weight=100)
    await ctx.sync_status(Phase.FAILED, canary_weight=100, failed_checks=ctx.status.failed_checks)
    if ctx.target is not None:
        try:
            await ctx.ports.router.reconcile(ctx.canary, ctx.target, apex_selects=Role.CANARY)
        except FlagmanError as route_error:
            await ctx.emit(Event.warning(str(route_error)))  # the next tick's reconcile retries
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.FAILED)
    ctx.ports.telemetry.failure(ctx.canary)
    await post_rollout(ctx)
