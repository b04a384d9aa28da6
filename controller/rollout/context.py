"""What one tick carries around: the ports, the Canary as last written, and the small helpers every
step uses (events, alerts, status writes, readiness).

A step that cannot continue records why and raises :class:`StopTick`; :func:`controller.rollout.advance`
catches it. The tick is level-based like Flagger's: the next tick starts over from the stored status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from controller.api import Canary, CanaryStatus, Phase
from controller.api.canary import DEFAULT_MIN_ANALYSIS_INTERVAL_SECONDS, ParsedSpec
from controller.errors import FlagmanError, NotReadyError
from controller.rollout import transitions
from controller.rollout.ports import (
    AlertMessage,
    AlertSeverity,
    Event,
    LogLevel,
    Ports,
    Revision,
    Role,
    Target,
)
from controller.rollout.readiness import check_ready, parse_time


@dataclass(frozen=True)
class RolloutSettings:
    """Controller-wide settings the tick needs (a subset of ``controller.settings.Settings``)."""

    mesh_provider: str = "kubernetes"
    min_analysis_interval: float = DEFAULT_MIN_ANALYSIS_INTERVAL_SECONDS  # `-min-analysis-interval`
    no_cross_namespace_refs: bool = False  # `-no-cross-namespace-refs`


@dataclass
class TickMemory:
    """Per-canary memory the scheduler keeps between ticks (in process only, never persisted).

    Used to write events that Flagger repeats every tick (suspend, ``not signaling a rollback``,
    provider and validation warnings) once per state change instead.
    """

    announced: dict[str, str] = field(default_factory=dict)
    parsed_spec: ParsedSpec | None = None  # the spec of the last tick, reused while it is unchanged

    def first_time(self, key: str, state: str) -> bool:
        """True (and remember) when ``key`` was not announced for ``state`` yet."""
        if self.announced.get(key) == state:
            return False
        self.announced[key] = state
        return True

    def forget(self, key: str) -> None:
        self.announced.pop(key, None)


class StopTick(Exception):
    """Ends the tick after its reason was recorded (never escapes :func:`advance`)."""


class TickContext:
    """State and helpers of one tick of one canary."""

    def __init__(self, ports: Ports, settings: RolloutSettings, memory: TickMemory, canary: Canary) -> None:
        self.ports = ports
        self.settings = settings
        self.memory = memory
        self.canary = canary
        self.target: Target | None = None
        self._revision: Revision | None = None

    # -- the canary as last written --------------------------------------------------------------

    @property
    def status(self) -> CanaryStatus:
        return self.canary.status

    @property
    def phase(self) -> Phase:
        return self.canary.status.phase

    # -- recording -------------------------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        await self.ports.recorder.event(self.canary, event)

    async def warn_and_stop(self, error: BaseException | str) -> NoReturn:
        """Flagger's ``recordEventWarningf(err)`` followed by ``return``."""
        await self.emit(Event.warning(str(error)))
        raise StopTick

    async def alert(self, message: str, severity: AlertSeverity, *, with_metadata: bool = False) -> None:
        await self.ports.recorder.alert(self.canary, AlertMessage(message, severity, with_metadata))

    def log(self, message: str, level: LogLevel = LogLevel.INFO) -> None:
        self.ports.recorder.log(self.canary, level, message)

    # -- observations ----------------------------------------------------------------------------

    async def revision(self) -> Revision:
        """The target's current revision, read once per tick."""
        if self._revision is None:
            try:
                self._revision = await self.ports.workloads.revision(self.canary)
            except FlagmanError as error:
                await self.warn_and_stop(error)
        return self._revision

    async def readiness(self, role: Role) -> None:
        """Raise NotReadyError, worded as Flagger does, unless the Deployment of ``role`` is ready."""
        canary = self.canary
        daemonset = canary.target_kind == "DaemonSet"
        if role == Role.PRIMARY:
            prefix = "primary daemonset " if daemonset else ""
            prefix += f"{canary.target_name}-primary.{canary.namespace} not ready: "
            threshold = canary.analysis.effective_primary_ready_threshold
        else:
            kind = "daemonset" if daemonset else "deployment"
            prefix = f"canary {kind} {canary.target_key} not ready: "
            threshold = canary.analysis.effective_canary_ready_threshold
        try:
            state = await self.ports.workloads.deployment(canary, role)
        except FlagmanError as error:
            raise NotReadyError(prefix + str(error), retriable=True) from error
        try:
            check_ready(
                state,
                deadline_seconds=canary.spec.effective_progress_deadline_seconds,
                ready_threshold=threshold,
                now=self.ports.clock.now(),
                since=parse_time(canary.status.last_transition_time),
            )
        except NotReadyError as error:
            raise NotReadyError(prefix + str(error), retriable=error.retriable) from error

    # -- status writes ---------------------------------------------------------------------------

    async def write(self, status: CanaryStatus) -> None:
        try:
            await self.ports.status.write(self.canary.ref, status)
        except FlagmanError as error:
            await self.emit(Event.warning(f"status update failed: {error}"))
            raise StopTick from error
        self.canary = self.canary.with_status(status)

    async def sync_status(
        self, phase: Phase, *, canary_weight: int = 0, iterations: int = 0, failed_checks: int = 0
    ) -> None:
        revision = await self.revision()
        await self.write(
            transitions.sync_status(
                self.status,
                phase,
                revision,
                kind=self.canary.target_kind,
                now=self.ports.clock.now(),
                canary_weight=canary_weight,
                iterations=iterations,
                failed_checks=failed_checks,
            )
        )

    async def set_phase(self, phase: Phase) -> None:
        await self.write(
            transitions.set_phase(
                self.status, phase, kind=self.canary.target_kind, now=self.ports.clock.now()
            )
        )

    async def set_fields(self, **fields: int) -> None:
        await self.write(transitions.set_fields(self.status, now=self.ports.clock.now(), **fields))

    # -- the apex Service ------------------------------------------------------------------------

    def apex_on_canary(self) -> bool:
        """True after a failed promotion: the apex Service selects the canary pods (weight 100)."""
        return self.status.canary_weight >= 100

    def carried_weight(self) -> int:
        """FIX: after a failed promotion the apex keeps selecting the canary pods (weight 100) until a
        later promotion reaches Finalising or a rollback happens."""
        return 100 if self.apex_on_canary() else 0

    async def route_apex(self, role: Role) -> None:
        assert self.target is not None, "the target is discovered before any routing"
        try:
            await self.ports.router.reconcile(self.canary, self.target, apex_selects=role)
        except FlagmanError as error:
            await self.warn_and_stop(error)

    async def apex_back_to_primary(self) -> None:
        """Before the canary is scaled down, give the apex back to the primary."""
        if self.apex_on_canary() and self.target is not None:
            await self.route_apex(Role.PRIMARY)
