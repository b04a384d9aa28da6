"""Release requests the tick honours: promote, abort and retry (``kubectl flagman``), pause, and the
auto-promotion option (:mod:`controller.api.options`).

A request (see :mod:`controller.api.requests`) is bound to the revision it was made for: when the
canary's revision is another one the request is ignored with an event, so an old ``promote`` never
approves a newer release. The id of the last handled request is kept in the ``ReleaseRequest`` status
condition; a request is therefore handled once, whatever the number of ticks or controller restarts.
A request that cannot be carried out yet (``promote`` while the canary pods are not ready) stays
pending; one that makes no sense in the current phase is ignored with an event saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.api import PROMOTED_CONDITION, Canary, CanaryStatus, Condition, Phase
from controller.api.options import OptionError, auto_promotion_seconds
from controller.api.requests import (
    ALLOWED_PHASES,
    REQUEST_CONDITION,
    Action,
    ReleaseRequest,
    RequestError,
    read_pause,
    read_request,
    requester,
)
from controller.errors import FlagmanError, NotReadyError
from controller.rollout import outcomes, preview, transitions, warm
from controller.rollout.context import TickContext
from controller.rollout.ports import AlertSeverity, Event, Role
from controller.rollout.readiness import parse_time


@dataclass(frozen=True)
class Verdict:
    """What to do with a pending request: act on it, or ignore it for ``reason``."""

    act: bool
    reason: str = ""


def handled_id(status: CanaryStatus) -> str:
    condition = status.condition(REQUEST_CONDITION)
    return condition.message.split(":", 1)[0] if condition is not None else ""


def pending_request(canary: Canary) -> ReleaseRequest | None:
    """The request not handled yet, if any (:class:`RequestError` when the annotation is unreadable)."""
    request = read_request(canary.metadata)
    if request is None or request.id == handled_id(canary.status):
        return None
    return request


def awaits_canary_pods(canary: Canary) -> bool:
    """A promote request is pending: it waits for ready canary pods, so a change of the canary's workload
    should run the tick at once instead of at the next interval (on a real cluster pods take seconds)."""
    try:
        request = pending_request(canary)
    except RequestError:
        return False
    return request is not None and request.action is Action.PROMOTE


def judge(request: ReleaseRequest, phase: Phase, last_applied: str, current_revision: str) -> Verdict:
    """Pure rule: whether ``request`` applies to the canary's phase and revision."""
    if request.revision not in (last_applied, current_revision) or last_applied != current_revision:
        shown = current_revision if request.revision == last_applied else last_applied
        return Verdict(False, f"it was made for revision {request.revision}, the canary is at {shown}")
    allowed = ALLOWED_PHASES[request.action]
    if phase not in allowed:
        wanted = " or ".join(sorted(item.value for item in allowed))
        return Verdict(False, f"the canary is {phase.value or 'new'}, not {wanted}")
    return Verdict(True)


def with_request_condition(
    status: CanaryStatus, request_id: str, honoured: bool, text: str, now: str
) -> CanaryStatus:
    condition = Condition(
        type=REQUEST_CONDITION,
        status="True" if honoured else "False",
        reason="Honoured" if honoured else "Ignored",
        message=f"{request_id}: {text}",
        last_update_time=now,
        last_transition_time=now,
    )
    others = tuple(item for item in status.conditions if item.type != REQUEST_CONDITION)
    return status.replace(conditions=(*others, condition))


def wakes_on_canary(body: Mapping[str, Any], latest: Canary | None) -> bool:
    """A Canary watch event carries a request the loop has not handled: tick now, not at the next
    interval (``kubectl flagman abort`` acts within a second). ``latest`` is the Canary as the loop's
    last tick left it, so a late event from before that tick's own write never wakes it again."""
    metadata = body.get("metadata")
    if latest is None or not isinstance(metadata, Mapping):
        return False
    try:
        request = read_request(metadata)
    except RequestError:
        return False
    if request is None or request.id == handled_id(latest.status):
        return False
    return request.id != _raw_handled_id(body.get("status"))


def _raw_handled_id(status: Any) -> str:
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for item in conditions if isinstance(conditions, list) else []:
        if isinstance(item, Mapping) and item.get("type") == REQUEST_CONDITION:
            return str(item.get("message") or "").split(":", 1)[0]
    return ""


def auto_promotion_due(canary: Canary, now: datetime) -> bool:
    """Pure rule: WaitingPromotion for at least the canary's auto-promotion seconds (OptionError when the
    annotation is unusable). The Promoted condition's ``lastUpdateTime`` is when WaitingPromotion began."""
    seconds = auto_promotion_seconds(canary.metadata)
    condition = canary.status.condition(PROMOTED_CONDITION)
    if seconds is None or condition is None or condition.reason != Phase.WAITING_PROMOTION.value:
        return False
    entered = parse_time(condition.last_update_time)
    return entered is not None and (now - entered).total_seconds() >= seconds


async def auto_promote(ctx: TickContext) -> bool:
    """A closed confirm-promotion gate gives way after the auto-promotion seconds (event once)."""
    try:
        due = auto_promotion_due(ctx.canary, ctx.ports.clock.now())
    except OptionError as error:
        if ctx.memory.first_time("auto-promotion", str(error)):
            await ctx.emit(Event.warning(f"Ignoring the auto-promotion option: {error}"))
        return False
    if due and ctx.memory.first_time("auto-promotion", ctx.status.last_applied_spec):
        seconds = auto_promotion_seconds(ctx.canary.metadata)
        text = f"Auto-promotion of {ctx.canary.key} after {seconds}s waiting for promotion approval"
        await ctx.emit(Event.normal(text))
        await ctx.alert(
            f"Auto-promotion after {seconds}s waiting for promotion approval.", AlertSeverity.INFO
        )
    return due


def paused_by(canary: Canary) -> str | None:
    """``kubectl flagman pause``: who paused (``""`` unknown), None when not paused."""
    return read_pause(canary.metadata)


async def honour(ctx: TickContext) -> bool:
    """Handle the pending request; True when the tick should end (it acted, or ignored the request)."""
    try:
        request = pending_request(ctx.canary)
    except RequestError as error:
        if ctx.memory.first_time("request", str(error)):
            await ctx.emit(Event.warning(f"Ignoring the release request: {error}"))
        return False
    if request is None:
        return False
    who = requester(ctx.canary.metadata, request)
    revision = await ctx.revision()
    verdict = judge(request, ctx.phase, ctx.status.last_applied_spec, revision.spec_hash)
    if not verdict.act:
        text = f"Ignoring {request.action.value} request by {who}: {verdict.reason}"
        await ctx.emit(Event.warning(text))
        await _record(ctx, request, honoured=False, text=text)
        return True  # a wake-up for this request must not run the analysis early
    if request.action == Action.PROMOTE:
        return await _promote(ctx, request, who)
    if request.action == Action.UNDO:
        return await _undo(ctx, request, who)
    if request.action == Action.ABORT:
        await _abort(ctx, request, who)
    else:
        await _retry(ctx, request, who)
    return True


async def _record(ctx: TickContext, request: ReleaseRequest, *, honoured: bool, text: str) -> None:
    stamp = transitions.format_time(ctx.ports.clock.now())
    await ctx.write(with_request_condition(ctx.status, request.id, honoured, text, stamp))


async def _promote(ctx: TickContext, request: ReleaseRequest, who: str) -> bool:
    """Finish the analysis now: the canary pods must be ready, then the usual promotion."""
    try:
        await ctx.readiness(Role.CANARY)
    except NotReadyError as error:
        if ctx.memory.first_time("request-wait", request.id):
            await ctx.emit(Event.warning(f"Promotion requested by {who} waits: {error}"))
        return False
    text = f"Promotion of {ctx.canary.key} requested by {who}: skipping the rest of the analysis"
    await ctx.emit(Event.normal(text))
    await ctx.alert(f"Promotion requested by {who}, skipping the rest of the analysis.", AlertSeverity.INFO)
    await outcomes.promote(ctx)
    await _record(ctx, request, honoured=True, text=text)
    return True


async def _abort(ctx: TickContext, request: ReleaseRequest, who: str) -> None:
    text = f"Rolling back {ctx.canary.key}: abort requested by {who}"
    await ctx.emit(Event.warning(text))
    await ctx.alert(f"Rolling back, abort requested by {who}", AlertSeverity.WARN)
    await outcomes.rollback(ctx)
    await _record(ctx, request, honoured=True, text=text)


async def _retry(ctx: TickContext, request: ReleaseRequest, who: str) -> None:
    """Re-run the analysis of the failed revision: scale the canary up, Progressing from iteration 0.

    The request itself is the approval, so confirm-rollout gates are not asked again.
    """
    canary = ctx.canary
    text = f"Retrying the analysis of {canary.target_key} requested by {who}"
    await ctx.emit(Event.normal(text, phase=Phase.PROGRESSING))
    await ctx.alert(f"Retry requested by {who}, progressing canary analysis.", AlertSeverity.INFO)
    try:
        await preview.scale_up(ctx)
    except FlagmanError as error:
        await ctx.warn_and_stop(error)
    await ctx.sync_status(Phase.PROGRESSING, canary_weight=ctx.carried_weight())
    ctx.ports.telemetry.canary_status(ctx.canary, Phase.PROGRESSING)
    await _record(ctx, request, honoured=True, text=text)


async def _undo(ctx: TickContext, request: ReleaseRequest, who: str) -> bool:
    """Move all traffic back to the warm previous version now (:func:`warm.instant_rollback`); pending
    while its pods are not ready yet, ignored when no previous version is kept."""
    available = await warm.availability(ctx)
    if available.pending:
        if ctx.memory.first_time("request-wait", request.id):
            await ctx.emit(Event.warning(f"Undo requested by {who} waits: {available.reason}"))
        return False
    if not available.ready:
        text = f"Ignoring undo request by {who}: {available.reason}"
        await ctx.emit(Event.warning(text))
        await _record(ctx, request, honoured=False, text=text)
        return True
    await warm.instant_rollback(ctx, reason=f"undo requested by {who}")
    text = f"Undo of {ctx.canary.key} requested by {who}: the previous version serves all traffic"
    await _record(ctx, request, honoured=True, text=text)
    return True
