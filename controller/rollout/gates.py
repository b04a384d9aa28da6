"""Webhook gates and the analysis of one tick (spec 4.2 and 5.2), worded as Flagger's events."""

from __future__ import annotations

from controller.api import Canary, Phase, Webhook
from controller.errors import FlagmanError, WebhookError
from controller.rollout.context import TickContext
from controller.rollout.ports import AlertSeverity, Event


async def confirm_rollout(ctx: TickContext) -> bool:
    """All confirm-rollout hooks approve; the first denial parks the canary in Waiting."""
    return await _confirm(
        ctx,
        "confirm-rollout",
        ctx.phase,
        Phase.WAITING,
        waiting_for="approval",
        alert="Canary is waiting for approval.",
    )


async def confirm_promotion(ctx: TickContext) -> bool:
    """All confirm-promotion hooks approve. FIX: a denial keeps ``iterations`` (Flagger resets to N-1)."""
    return await _confirm(
        ctx,
        "confirm-promotion",
        Phase.PROGRESSING,
        Phase.WAITING_PROMOTION,
        waiting_for="promotion approval",
        alert="Canary promotion is waiting for approval.",
    )


async def _confirm(
    ctx: TickContext, hook_type: str, call_phase: Phase, waiting: Phase, *, waiting_for: str, alert: str
) -> bool:
    """Call the ``hook_type`` gates with ``call_phase``; the first denial parks the canary in ``waiting``
    (one event and alert on entering it), each approval is an event."""
    for hook in ctx.canary.analysis.hooks(hook_type):
        try:
            await ctx.ports.webhooks.call(ctx.canary, hook, call_phase)
        except WebhookError:
            if ctx.phase != waiting:
                await ctx.set_phase(waiting)
                await ctx.emit(
                    Event.warning(f"Halt {ctx.canary.key} advancement waiting for {waiting_for} {hook.name}")
                )
                if not hook.mute_alert:
                    await ctx.alert(alert, AlertSeverity.WARN)
            return False
        await ctx.emit(Event.normal(f"{hook_type.capitalize()} check {hook.name} passed"))
    return True


async def rollback_requested(ctx: TickContext) -> Webhook | None:
    """The first rollback hook that answers 2xx (a manual rollback), else None.

    FIX: ``not signaling a rollback`` is written once per hook, phase and revision, not every tick.
    """
    for hook in ctx.canary.analysis.hooks("rollback"):
        try:
            await ctx.ports.webhooks.call(ctx.canary, hook, ctx.phase)
        except WebhookError:
            state = f"{ctx.phase.value}/{ctx.status.last_applied_spec}"
            if ctx.memory.first_time(f"rollback-hook:{hook.name}", state):
                await ctx.emit(Event.normal(f"Rollback hook {hook.name} not signaling a rollback"))
            continue
        return hook
    return None


async def pre_rollout(ctx: TickContext) -> bool:
    for hook in ctx.canary.analysis.hooks("pre-rollout"):
        try:
            await ctx.ports.webhooks.call(ctx.canary, hook, Phase.PROGRESSING)
        except WebhookError as error:
            await ctx.emit(
                Event.warning(
                    f"Halt {ctx.canary.key} advancement pre-rollout check {hook.name} failed {error}"
                )
            )
            return False
        await ctx.emit(Event.normal(f"Pre-rollout check {hook.name} passed"))
    return True


async def analysis_passes(ctx: TickContext) -> bool:
    """Rollout hooks, then the metric checks (builtin, inline query, templates)."""
    canary = ctx.canary
    for hook in canary.analysis.hooks("rollout"):
        try:
            await ctx.ports.webhooks.call(canary, hook, Phase.PROGRESSING)
        except WebhookError as error:
            await ctx.emit(
                Event.warning(f"Halt {canary.key} advancement external check {hook.name} failed {error}")
            )
            return False
    return await metric_checks_pass(ctx, canary)


async def metric_checks_pass(ctx: TickContext, checked: Canary) -> bool:
    """Run the metric checks on `checked` (the Canary, or a view of it), emit their events and record their
    values against the tick's Canary; an error of the checks is an Error event and a failed check."""
    try:
        result = await ctx.ports.metrics.run_checks(checked)
    except FlagmanError as error:
        await ctx.emit(Event.error(str(error)))
        return False
    for event in result.events:
        await ctx.emit(event)
    for metric, value in result.values.items():
        ctx.ports.telemetry.metric_value(ctx.canary, metric, value)
    return result.passed


async def post_rollout(ctx: TickContext) -> None:
    """Post-rollout hooks with the final phase; the first failure skips the rest, state unchanged."""
    for hook in ctx.canary.analysis.hooks("post-rollout"):
        try:
            await ctx.ports.webhooks.call(ctx.canary, hook, ctx.phase)
        except WebhookError as error:
            await ctx.emit(Event.warning(f"Post-rollout hook {hook.name} failed {error}"))
            return
        await ctx.emit(Event.normal(f"Post-rollout check {hook.name} passed"))
