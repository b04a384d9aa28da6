"""The selector switch at promotion (``flagman.app/selector-switch: "true"``).

Flagger's kubernetes provider promotes by rolling-updating the primary in place while the apex Service
selects it, so for the length of the rollout requests are served by old and new pods at once (Flagger
issues #1096, #1697). With the switch on, a promotion instead:

1. points the apex Service at the canary pods ("green", just verified by the analysis) in one Service
   update — every new connection goes to the new version from then on;
2. updates the primary while green serves (Promoting);
3. points the apex back at the primary only when every one of its replicas runs the new version and is
   available (not merely ``primaryReadyThreshold`` percent of them), then Finalising scales the canary
   down as usual.

So the versions a client sees move from old to new exactly once. The state is ``status.canaryWeight: 100``
(the apex selects the canary pods), written before the Service is switched, so a controller restarted in
between routes the same way.
"""

from __future__ import annotations

from controller.api.bluegreen_options import selector_switch
from controller.api.options import OptionError
from controller.errors import FlagmanError, NotReadyError
from controller.rollout.context import StopTick, TickContext
from controller.rollout.ports import Event, Role
from controller.rollout.readiness import check_ready, parse_time

FULLY_READY = 100


async def enabled(ctx: TickContext) -> bool:
    """The option's value; a bad value is one Warning event and counts as off."""
    try:
        return selector_switch(ctx.canary.metadata)
    except OptionError as error:
        if ctx.memory.first_time("selector-switch", str(error)):
            await ctx.emit(Event.warning(f"Ignoring the selector switch option: {error}"))
        return False


async def switch_to_canary(ctx: TickContext) -> None:
    """Before the primary is updated: the apex selects the verified canary pods."""
    if ctx.apex_on_canary() or not await enabled(ctx):
        return
    canary = ctx.canary
    await ctx.emit(
        Event.normal(
            f"Switching {canary.service_name}.{canary.namespace} to the canary pods of {canary.target_key}"
            f" while {canary.target_name}-primary is updated"
        )
    )
    await ctx.set_fields(canary_weight=100)
    await ctx.route_apex(Role.CANARY)
    ctx.ports.telemetry.canary_weights(canary, primary=0, canary_weight=100)


async def wait_until_fully_ready(ctx: TickContext) -> None:
    """With the apex on the canary pods, the primary takes it back only with all replicas updated and
    available; until then the tick ends (the primary's own deadline still applies through step 13)."""
    if not ctx.apex_on_canary():
        return
    canary = ctx.canary
    try:
        state = await ctx.ports.workloads.deployment(canary, Role.PRIMARY)
        check_ready(
            state,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=FULLY_READY,
            now=ctx.ports.clock.now(),
            since=parse_time(canary.status.last_transition_time),
        )
    except (NotReadyError, FlagmanError) as error:
        ctx.log(f"{canary.target_name}-primary.{canary.namespace} not fully ready yet: {error}")
        raise StopTick from error


async def switch_back_to_primary(ctx: TickContext) -> None:
    """Promoting, the primary fully ready: the apex selects it again (then Finalising)."""
    if not ctx.apex_on_canary():
        return
    await wait_until_fully_ready(ctx)
    canary = ctx.canary
    await ctx.route_apex(Role.PRIMARY)
    ctx.ports.telemetry.canary_weights(canary, primary=100, canary_weight=0)
    await ctx.emit(
        Event.normal(
            f"Switched {canary.service_name}.{canary.namespace} back to {canary.target_name}-primary"
        )
    )
