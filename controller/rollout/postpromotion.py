"""Post-promotion analysis (Argo Rollouts' ``postPromotionAnalysis``), opt-in with the Canary annotation
``flagman.app/post-promotion-iterations: "M"`` (:mod:`controller.api.options`).

Flagger's promotion ends Promoting -> Finalising -> Succeeded, one analysis interval apart. With the option
the canary stays in **Finalising** (the new version serves all the traffic from the primary) for M more
intervals; each one runs the metric checks against the promoted version: ``{{ target }}`` renders as the
primary (``podinfo-primary``), so the builtin metrics and MetricTemplates measure the pods that now serve
the traffic. ``status.iterations`` counts the passed checks (from 0 at Finalising), ``status.failedChecks``
the failed ones (from 0); reaching ``analysis.threshold`` rolls back to the previous version at once, and
the canary ends Failed. After M passed checks the usual finalisation runs: canary to zero, Succeeded.

Flagger's phases are kept (a Flagger CRD validates them): the ``PostPromotionAnalysis`` status condition
says what Finalising is doing — ``Unknown``/``Running`` while it checks, ``True``/``Passed``,
``False``/``Failed`` — and its message carries the revision, so a controller restart resumes the count.
"""

from __future__ import annotations

import dataclasses

from controller.api import Canary, CanaryStatus, Condition
from controller.api.options import OptionError, post_promotion_iterations
from controller.rollout import gates, outcomes, transitions, warm
from controller.rollout.context import StopTick, TickContext
from controller.rollout.ports import Event

CONDITION = "PostPromotionAnalysis"
RUNNING, PASSED, FAILED = "Running", "Passed", "Failed"


def iterations(canary: Canary) -> int | None:
    """M, or None when the option is off (OptionError when the annotation is unusable)."""
    return post_promotion_iterations(canary.metadata)


def promoted_view(canary: Canary) -> Canary:
    """The canary as the metric checks should see it after the promotion: its target is the primary."""
    spec = canary.spec
    primary_ref = dataclasses.replace(spec.target_ref, name=f"{spec.target_ref.name}-primary")
    return dataclasses.replace(canary, spec=dataclasses.replace(spec, target_ref=primary_ref))


def running_for(status: CanaryStatus) -> bool:
    """Whether the recorded post-promotion analysis is the one of the revision being finalised."""
    condition = status.condition(CONDITION)
    return (
        condition is not None
        and condition.reason == RUNNING
        and condition.message.endswith(f"(revision {status.last_applied_spec})")
    )


def with_condition(status: CanaryStatus, state: str, reason: str, message: str, now: str) -> CanaryStatus:
    current = status.condition(CONDITION)
    changed = current is None or current.status != state
    condition = Condition(
        type=CONDITION,
        status=state,
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=now if changed or current is None else current.last_transition_time,
    )
    others = tuple(item for item in status.conditions if item.type != CONDITION)
    return status.replace(conditions=(*others, condition))


async def verifying(ctx: TickContext) -> bool:
    """Finalising with the option: run one post-promotion check. True while the analysis goes on (the
    tick ends there), False when finalisation may proceed (option off or every check passed)."""
    try:
        total = iterations(ctx.canary)
    except OptionError as error:
        if ctx.memory.first_time("post-promotion", str(error)):
            await ctx.emit(Event.warning(f"Ignoring the post-promotion analysis option: {error}"))
        return False
    if total is None:
        return False
    canary = ctx.canary
    primary = f"{canary.target_name}-primary.{canary.namespace}"
    if not running_for(ctx.status):
        await ctx.emit(Event.normal(f"Starting post-promotion analysis for {primary}: {total} iterations"))
        await _record(ctx, "Unknown", RUNNING, iterations=0, failed_checks=0, total=total)
    if ctx.status.failed_checks >= canary.analysis.effective_threshold:
        await roll_back(ctx, ctx.status.failed_checks)  # a rollback that waited for the previous pods
        return True
    passed = await _metrics_pass(ctx)
    if not passed:
        failed = ctx.status.failed_checks + 1
        await _record(
            ctx, "Unknown", RUNNING, iterations=ctx.status.iterations, failed_checks=failed, total=total
        )
        if failed >= canary.analysis.effective_threshold:
            await roll_back(ctx, failed)
        return True
    done = ctx.status.iterations + 1
    await ctx.emit(Event.normal(f"Post-promotion analysis of {primary} iteration {done}/{total} passed"))
    if done < total:
        await _record(
            ctx, "Unknown", RUNNING, iterations=done, failed_checks=ctx.status.failed_checks, total=total
        )
        return True
    stamp = transitions.format_time(ctx.ports.clock.now())
    revision = ctx.status.last_applied_spec
    message = f"{total} of {total} post-promotion iterations of {primary} passed (revision {revision})"
    await ctx.write(with_condition(ctx.status, "True", PASSED, message, stamp))
    return False


async def _metrics_pass(ctx: TickContext) -> bool:
    """The metric checks of :func:`controller.rollout.gates.analysis_passes` on the promoted view (no
    rollout webhooks: they load-test the canary Service, which serves nobody after the promotion)."""
    return await gates.metric_checks_pass(ctx, promoted_view(ctx.canary))


async def _record(
    ctx: TickContext, state: str, reason: str, *, iterations: int, failed_checks: int, total: int
) -> None:
    status = ctx.status
    message = (
        f"Verifying {ctx.canary.target_name}-primary.{ctx.canary.namespace} after promotion:"
        f" {iterations}/{total} iterations passed, {failed_checks} failed checks"
        f" (revision {status.last_applied_spec})"
    )
    now = ctx.ports.clock.now()
    updated = transitions.set_fields(status, now=now, iterations=iterations, failed_checks=failed_checks)
    await ctx.write(with_condition(updated, state, reason, message, transitions.format_time(now)))


async def roll_back(ctx: TickContext, failed_checks: int) -> None:
    """Threshold reached after the promotion: back to the previous version in one step, then Failed."""
    canary = ctx.canary
    primary = f"{canary.target_name}-primary.{canary.namespace}"
    available = await warm.availability(ctx)
    if available.pending:
        if ctx.memory.first_time("post-promotion-rollback", available.reason):
            await ctx.emit(Event.warning(f"The rollback of {canary.key} waits: {available.reason}"))
        raise StopTick
    await ctx.emit(
        Event.warning(f"Post-promotion analysis of {primary} failed: rolling back to the previous version")
    )
    stamp = transitions.format_time(ctx.ports.clock.now())
    message = (
        f"failed checks threshold reached {failed_checks} after promotion: rolled back to the previous"
        f" version (revision {ctx.status.last_applied_spec})"
    )
    await ctx.write(with_condition(ctx.status, "False", FAILED, message, stamp))
    await instant_rollback(ctx, available)


async def instant_rollback(ctx: TickContext, available: warm.Availability) -> None:
    """The switch to the warm previous version (:func:`controller.rollout.warm.instant_rollback`), kept
    through Finalising because the option is on. When there is none (deleted, or its copy failed at the
    promotion), the usual rollback runs and the primary keeps the new version, which the status then says
    (``lastPromotedSpec``)."""
    if available.ready and await warm.instant_rollback(ctx, reason="post-promotion analysis failed"):
        return
    await ctx.emit(
        Event.warning(
            f"No previous version of {ctx.canary.key} to roll back to ({available.reason}):"
            f" {ctx.canary.target_name}-primary keeps the new version"
        )
    )
    await outcomes.rollback(ctx)
    await ctx.write(ctx.status.replace(last_promoted_spec=ctx.status.last_applied_spec))
