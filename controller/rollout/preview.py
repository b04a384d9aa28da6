"""A reduced-size preview (Argo Rollouts' ``previewReplicaCount``), opt-in with the Canary annotation
``flagman.app/preview-replica-count: "N"`` (:mod:`controller.api.options`).

When a new revision is accepted, the canary (green) Deployment is scaled to N replicas instead of its full
size (Flagger's scale-from-zero count, spec 1.7) — enough pods for the analysis, fewer resources. When the
analysis reaches its last iteration, the canary is scaled to full size; the promotion waits until every
full-size pod is ready, because the promotion copies the canary's replicas to the primary and (with the
selector switch) sends the traffic to the canary pods.

The full size is remembered in the ``PreviewReplicas`` status condition (``True``/``Reduced`` while the
canary runs N replicas, ``False``/``FullSize`` once scaled up), so a controller restart keeps it: the
canary's own replicas then say N. Not for DaemonSets (no replicas) nor with an ``autoscalerRef`` (the
autoscaler owns the canary's size): there the option is ignored with one Warning event.
"""

from __future__ import annotations

import re

from controller.api import CanaryStatus, Condition
from controller.api.options import OptionError, preview_replica_count
from controller.errors import FlagmanError, NotReadyError
from controller.rollout import transitions
from controller.rollout.context import StopTick, TickContext
from controller.rollout.ports import Event, Role

CONDITION = "PreviewReplicas"
REDUCED, FULL_SIZE = "Reduced", "FullSize"
_SIZES = re.compile(r" runs (\d+) of (\d+) replicas")


async def wanted(ctx: TickContext) -> int | None:
    """N when the option applies to this canary; None (after one Warning event) when it cannot."""
    canary = ctx.canary
    problem = ""
    try:
        count = preview_replica_count(canary.metadata)
    except OptionError as error:
        count, problem = None, str(error)
    if count is not None and canary.skip_analysis:
        return None  # no analysis, no preview: promoted at once
    if count is not None and canary.target_kind == "DaemonSet":
        problem = "a DaemonSet has no replicas to reduce"
    elif count is not None and canary.spec.autoscaler_ref is not None:
        problem = f"the {canary.spec.autoscaler_ref.kind or 'autoscaler'} sets the canary's size"
    if problem:
        if ctx.memory.first_time("preview", problem):
            await ctx.emit(Event.warning(f"Ignoring the preview replica count option: {problem}"))
        return None
    return count


def sizes(status: CanaryStatus) -> tuple[int, int] | None:
    """(preview, full) from the condition, None without one."""
    condition = status.condition(CONDITION)
    match = _SIZES.search(condition.message) if condition is not None else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def with_condition(status: CanaryStatus, reason: str, message: str, now: str) -> CanaryStatus:
    others = tuple(item for item in status.conditions if item.type != CONDITION)
    if not reason:
        return status.replace(conditions=others)
    condition = Condition(
        type=CONDITION,
        status="True" if reason == REDUCED else "False",
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=now,
    )
    return status.replace(conditions=(*others, condition))


async def scale_up(ctx: TickContext) -> None:
    """A new revision (or a retry) is accepted: scale the canary from zero, to N replicas with the option.

    Raises FlagmanError as ``Workloads.scale_from_zero`` does.
    """
    canary = ctx.canary
    workloads = ctx.ports.workloads
    count = await wanted(ctx)
    full = await workloads.scale_up_replicas(canary) if count is not None else 0
    stamp = transitions.format_time(ctx.ports.clock.now())
    if count is None or count >= full:
        if ctx.status.condition(CONDITION) is not None:
            await ctx.write(with_condition(ctx.status, "", "", stamp))
        await workloads.scale_from_zero(canary)
        return
    # The full size is written before the scale: after a restart the canary's replicas say N.
    message = f"{canary.target_key} runs {count} of {full} replicas until promotion"
    await ctx.write(with_condition(ctx.status, REDUCED, message, stamp))
    await workloads.scale(canary, count)
    await ctx.emit(Event.normal(f"Preview of {canary.target_key} with {count} of {full} replicas"))


async def scale_to_full(ctx: TickContext) -> None:
    """The last iteration passed: scale a reduced canary to full size (the promotion waits for it)."""
    condition = ctx.status.condition(CONDITION)
    known = sizes(ctx.status)
    if condition is None or condition.reason != REDUCED or known is None:
        return
    count, full = known
    canary = ctx.canary
    try:
        await ctx.ports.workloads.scale(canary, full)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await ctx.emit(
        Event.normal(f"Scaling up {canary.target_key} from {count} to {full} replicas for promotion")
    )
    message = f"{canary.target_key} runs {full} of {full} replicas, scaled up from {count} for promotion"
    stamp = transitions.format_time(ctx.ports.clock.now())
    await ctx.write(with_condition(ctx.status, FULL_SIZE, message, stamp))


async def ensure_full_size(ctx: TickContext) -> None:
    """Before a promotion: a reduced canary is scaled to full size and the tick ends (StopTick) until
    all of its pods are ready; without a preview, nothing."""
    condition = ctx.status.condition(CONDITION)
    if condition is None:
        return
    if condition.reason == REDUCED:
        await scale_to_full(ctx)
    try:
        await ctx.readiness(Role.CANARY)
    except NotReadyError as error:
        if ctx.memory.first_time("preview-wait", str(error)):
            await ctx.emit(Event.warning(f"Promotion waits for the full-size canary: {error}"))
        raise StopTick from error
