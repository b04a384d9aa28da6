"""``revertOnDeletion``: the ``finalizer.flagger.app`` finalizer and the revert it guards (Flagger's
``pkg/controller/finalizer.go`` and the deletion branch of its sync handler).

* ``revertOnDeletion: true``: the finalizer is added to the Canary; turned off, it is removed again;
  ``false`` (the default) never adds one, so deleting such a Canary never waits for the controller.
* On deletion, with the finalizer: phase Terminating (event ``Terminating canary {name}.{ns}``), the
  target's paused autoscaler resumed and its replicas restored, the target waited for until ready, an
  adopted apex Service pointed back at the target's pods, then phase Terminated, the finalizer removed
  and ``Terminated canary {name}.{ns}`` recorded. A step that fails is retried on the next tick.

FIX: Flagger never writes the Terminated phase it checks for; here it marks a finished revert, so a
retried finalizer removal does not revert twice.
"""

from __future__ import annotations

from controller.api import Phase
from controller.errors import FlagmanError, NotReadyError
from controller.rollout.context import StopTick, TickContext
from controller.rollout.ports import Event, Role

FINALIZER = "finalizer.flagger.app"


def has_finalizer(ctx: TickContext) -> bool:
    return FINALIZER in (ctx.canary.metadata.get("finalizers") or ())


async def reconcile_finalizer(ctx: TickContext) -> None:
    """Keep the finalizer in step with ``revertOnDeletion``; on deletion, finalize and end the tick."""
    canary = ctx.canary
    wanted = canary.spec.revert_on_deletion
    present = has_finalizer(ctx)
    if canary.metadata.get("deletionTimestamp"):
        if present and wanted:
            await _finalize(ctx)
        elif present:  # opted out after `kubectl delete`: let the deletion go on, revert nothing
            await _set_finalizer(ctx, present=False)
        raise StopTick
    if wanted != present:
        if not wanted:
            ctx.log(f"{canary.key} opting out, deleting finalizers")
        await _set_finalizer(ctx, present=wanted)


async def _set_finalizer(ctx: TickContext, *, present: bool) -> None:
    try:
        await ctx.ports.status.set_finalizer(ctx.canary.ref, FINALIZER, present=present)
    except FlagmanError as error:
        verb = "add finalizer to" if present else "remove finalizer for"
        await ctx.warn_and_stop(f"unable to {verb} canary {ctx.canary.key}: {error}")


async def _finalize(ctx: TickContext) -> None:
    canary = ctx.canary
    ports = ctx.ports
    if ctx.phase != Phase.TERMINATED:
        if ctx.phase != Phase.TERMINATING:
            await ctx.set_phase(Phase.TERMINATING)
            await ctx.emit(Event.normal(f"Terminating canary {canary.key}"))
        try:
            await ports.workloads.revert(canary)
        except FlagmanError as error:
            await ctx.warn_and_stop(f"failed to revert target: {error}")
        ctx.log(f"{canary.key} kind {canary.target_kind} reverted")
        try:
            await ctx.readiness(Role.CANARY)
        except NotReadyError as error:
            await ctx.warn_and_stop(f"canary not ready during finalizing: {error}")
        try:
            target = await ports.workloads.discover(canary)
            await ports.router.finalize(canary, target)
        except FlagmanError as error:
            await ctx.warn_and_stop(f"failed revert router: {error}")
        ctx.log(f"{canary.key} router reverted")
        await ctx.set_phase(Phase.TERMINATED)
    await _set_finalizer(ctx, present=False)
    await ctx.emit(Event.normal(f"Terminated canary {canary.key}"))
