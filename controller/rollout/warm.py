"""Keep the previous version warm after a promotion, and the instant rollback to it.

With ``flagman.app/scale-down-delay-seconds: "N"`` (Argo Rollouts' ``scaleDownDelaySeconds``), a promotion
first copies the primary — still running the version being replaced — to ``{target}-previous``
(:class:`~controller.rollout.ports.PreviousVersions`). Its pods keep running through Promoting and
Finalising and for N seconds after Succeeded; then, at the next tick, it is scaled to zero.

:func:`instant_rollback` is the rollback to it, used by ``kubectl flagman undo`` and meant for automatic
rollbacks after a promotion (post-promotion analysis): one status write and one Service update move all
traffic to the previous version; the primary then gets the previous template back while it serves, and
the apex returns to the primary once it is fully ready again (:func:`reconcile`, every tick). The state is
the ``InstantRollback`` status condition, so a restarted controller carries on where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from controller.api import PROMOTED_CONDITION, Canary, CanaryStatus, Condition, Phase
from controller.api.bluegreen_options import (
    ROLLBACK_CONDITION,
    SCALE_DOWN_DELAY_ANNOTATION,
    scale_down_delay_seconds,
)
from controller.api.options import OptionError, post_promotion_iterations
from controller.errors import FlagmanError, NotReadyError
from controller.rollout import transitions
from controller.rollout.context import StopTick, TickContext
from controller.rollout.gates import post_rollout
from controller.rollout.ports import AlertSeverity, Event, Role
from controller.rollout.readiness import check_ready, parse_time

RESTORING = "Restoring"
RESTORED = "Restored"

KEEPS_PREVIOUS = frozenset({Phase.PROMOTING, Phase.FINALISING})
"""Phases in which the previous version is always kept (then Succeeded, for the option's seconds)."""
UNDO_PHASES = frozenset({Phase.PROMOTING, Phase.FINALISING, Phase.SUCCEEDED})


@dataclass(frozen=True)
class Availability:
    """Whether an instant rollback can happen now; ``pending``: not yet, but it may (pods starting)."""

    ready: bool
    reason: str = ""
    pending: bool = False


async def delay_seconds(ctx: TickContext) -> int | None:
    """The option's value; a bad value (or a DaemonSet target) is one Warning event and counts as off."""
    try:
        seconds = scale_down_delay_seconds(ctx.canary.metadata)
    except OptionError as error:
        if ctx.memory.first_time("scale-down-delay", str(error)):
            await ctx.emit(Event.warning(f"Ignoring the scale-down delay option: {error}"))
        return None
    if seconds is not None and ctx.canary.target_kind != "Deployment":
        if ctx.memory.first_time("scale-down-delay", "kind"):
            await ctx.emit(
                Event.warning(
                    f"Ignoring {SCALE_DOWN_DELAY_ANNOTATION}:"
                    f" a {ctx.canary.target_kind} has no replicas to keep"
                )
            )
        return None
    return seconds


def restoring(canary: Canary) -> bool:
    condition = canary.status.condition(ROLLBACK_CONDITION)
    return condition is not None and condition.reason == RESTORING


def apex_role(ctx: TickContext) -> Role:
    """Whose pods the apex Service selects (step 8)."""
    if restoring(ctx.canary):
        return Role.PREVIOUS
    return Role.CANARY if ctx.apex_on_canary() else Role.PRIMARY


async def keep_previous(ctx: TickContext) -> None:
    """At promotion, before the primary changes: copy it to ``{target}-previous`` (when the option is on).
    A failure is a Warning event; the promotion goes on without a warm previous version."""
    if ctx.target is None or (await delay_seconds(ctx) is None and not _post_promotion(ctx.canary)):
        return
    try:
        await ctx.ports.previous.keep(ctx.canary, ctx.target, ctx.status.last_promoted_spec)
    except FlagmanError as error:
        await ctx.emit(Event.warning(f"The previous version is not kept: {error}"))


async def availability(ctx: TickContext) -> Availability:
    """Whether :func:`instant_rollback` can run now."""
    canary = ctx.canary
    if ctx.phase not in UNDO_PHASES:
        return Availability(False, f"the canary is {ctx.phase.value}, not promoting or promoted")
    try:
        state = await ctx.ports.previous.state(canary)
    except FlagmanError as error:
        return Availability(False, str(error), pending=True)
    if state is None:
        if scale_down_delay_seconds_or_none(canary) is None:
            return Availability(
                False, f"no previous version is kept ({SCALE_DOWN_DELAY_ANNOTATION} is not set)"
            )
        return Availability(False, "the previous version is no longer kept (its scale-down delay is over)")
    try:
        check_ready(
            state.workload,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=100,
            now=ctx.ports.clock.now(),
            since=None,
        )
    except NotReadyError as error:
        return Availability(
            False, f"{canary.target_name}-previous.{canary.namespace} not ready: {error}", pending=True
        )
    return Availability(True)


def scale_down_delay_seconds_or_none(canary: Canary) -> int | None:
    try:
        return scale_down_delay_seconds(canary.metadata)
    except OptionError:
        return None


async def instant_rollback(ctx: TickContext, *, reason: str) -> bool:
    """Roll back to the warm previous version: all traffic moves in one Service update.

    ``reason`` ends the event and alert (``undo requested by alice``, ``post-promotion analysis failed``).
    Returns False, changing nothing, when no ready previous version is kept (:func:`availability` says
    why). Afterwards the canary is Failed for the promoted revision (no analysis restarts until the target
    changes; ``kubectl flagman retry`` analyses it again) and ``lastPromotedSpec`` is the previous one.
    """
    if not (await availability(ctx)).ready or ctx.target is None:
        return False
    canary = ctx.canary
    state = await ctx.ports.previous.state(canary)
    previous_revision = state.revision if state is not None else ""
    # The status first: a restart between the two writes routes the apex to the previous version too.
    now = ctx.ports.clock.now()
    failed = transitions.sync_status(
        ctx.status,
        Phase.FAILED,
        await ctx.revision(),
        kind=canary.target_kind,
        now=now,
        failed_checks=ctx.status.failed_checks,
    )
    stamp = transitions.format_time(now)
    marked = _with_condition(
        failed.replace(last_promoted_spec=previous_revision or failed.last_promoted_spec),
        RESTORING,
        f"{canary.service_name} serves {canary.target_name}-previous ({previous_revision});"
        f" {canary.target_name}-primary is being restored",
        stamp,
    )
    await ctx.write(marked)
    await ctx.route_apex(Role.PREVIOUS)
    ctx.ports.telemetry.canary_weights(canary, primary=100, canary_weight=0)
    await ctx.emit(
        Event.warning(
            f"Rolling back {canary.key} to the previous version {previous_revision}: {reason}",
            phase=Phase.FAILED,
        )
    )
    await ctx.alert(f"Rolled back to the previous version: {reason}", AlertSeverity.WARN)
    try:
        await ctx.ports.workloads.scale_to_zero(canary)
        await ctx.ports.previous.restore_primary(canary, ctx.target)
    except FlagmanError as error:
        await ctx.emit(Event.warning(str(error)))  # the next tick's reconcile carries on
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.FAILED)
    ctx.ports.telemetry.failure(ctx.canary)
    await post_rollout(ctx)
    return True


async def reconcile(ctx: TickContext) -> None:
    """Every tick: finish a restore in progress, or scale down a previous version no longer kept."""
    if restoring(ctx.canary):
        await _finish_restore(ctx)
        return
    try:
        state = await ctx.ports.previous.state(ctx.canary)
        if state is not None and not await _keeps_previous(ctx):
            ctx.log(
                f"Scaling down the previous version {ctx.canary.target_name}-previous.{ctx.canary.namespace}"
            )
            await ctx.ports.previous.scale_down(ctx.canary)
    except FlagmanError as error:
        await ctx.emit(Event.warning(str(error)))


async def _keeps_previous(ctx: TickContext) -> bool:
    seconds = await delay_seconds(ctx)
    if seconds is None:
        return ctx.phase in KEEPS_PREVIOUS and _post_promotion(ctx.canary)
    if ctx.phase in KEEPS_PREVIOUS:
        return True
    promoted = ctx.status.condition(PROMOTED_CONDITION)
    since = parse_time(promoted.last_update_time) if promoted is not None else None
    return (
        ctx.phase == Phase.SUCCEEDED
        and since is not None
        and ctx.ports.clock.now() < since + timedelta(seconds=seconds)
    )


async def _finish_restore(ctx: TickContext) -> None:
    """Restoring: once the primary runs the previous template on all replicas, the apex returns to it."""
    canary = ctx.canary
    assert ctx.target is not None
    try:
        await ctx.ports.previous.restore_primary(canary, ctx.target)  # no-op once done
        primary = await ctx.ports.workloads.deployment(canary, Role.PRIMARY)
        check_ready(
            primary,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=100,
            now=ctx.ports.clock.now(),
            since=None,
        )
    except NotReadyError as error:
        ctx.log(f"{canary.target_name}-primary.{canary.namespace} is being restored: {error}")
        raise StopTick from error
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await ctx.route_apex(Role.PRIMARY)
    stamp = transitions.format_time(ctx.ports.clock.now())
    text = f"{canary.target_name}-primary runs the previous version {canary.status.last_promoted_spec} again"
    await ctx.write(_with_condition(ctx.status, RESTORED, text, stamp))
    await ctx.emit(Event.normal(f"Rollback of {canary.key} finished: {text}"))
    try:
        await ctx.ports.previous.scale_down(canary)
    except FlagmanError as error:
        await ctx.emit(Event.warning(str(error)))


def _post_promotion(canary: Canary) -> bool:
    """The post-promotion analysis (:mod:`controller.rollout.postpromotion`) may roll back to the previous
    version until Succeeded: it is kept through Promoting and Finalising even without a delay."""
    try:
        return post_promotion_iterations(canary.metadata) is not None
    except OptionError:
        return False


def _with_condition(status: CanaryStatus, reason: str, message: str, now: str) -> CanaryStatus:
    condition = Condition(
        type=ROLLBACK_CONDITION,
        status="True" if reason == RESTORING else "False",
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=now,
    )
    others = tuple(item for item in status.conditions if item.type != ROLLBACK_CONDITION)
    return status.replace(conditions=(*others, condition))
