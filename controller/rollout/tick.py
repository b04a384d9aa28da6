"""One tick of one canary: Flagger's ``advanceCanary`` for Deployments on the kubernetes provider.

The numbered comments follow the exact order of spec section 2.2. Deliberate differences from Flagger
(its defects, spec 10) are marked ``FIX`` and listed in docs/compatibility.md.

The tick observes and acts only through :class:`~controller.rollout.ports.Ports`; a step that fails
records a Warning event with the error text and ends the tick (the next tick starts over, Flagger's
level-based style). Status writes go through the status port after every transition so a controller
restarted mid-analysis resumes from the written status.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from controller.api import Canary, CanaryRef, CanaryStatus, Phase
from controller.errors import (
    CanaryValidationError,
    FlagmanError,
    NotFoundError,
    NotReadyError,
    WebhookError,
)
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
from controller.rollout.readiness import check_deployment_ready
from controller.rollout.revision import has_target_changed, have_configs_changed, is_foreign_hash

SUPPORTED_PROVIDERS = frozenset({"", "kubernetes"})
KUBERNETES_DEFAULT_ITERATIONS = 10

_INITIALIZING = frozenset({Phase.NONE, Phase.INITIALIZING})
_ADVANCING = frozenset(
    {Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}
)
_IN_ANALYSIS = frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING})


@dataclass(frozen=True)
class RolloutSettings:
    """Controller-wide settings the tick needs (a subset of ``controller.settings.Settings``)."""

    mesh_provider: str = "kubernetes"


@dataclass
class TickMemory:
    """Per-canary memory the operator keeps between ticks (in process only, never persisted).

    Used to write events that Flagger repeats every tick (suspend, ``not signaling a rollback``,
    provider and validation warnings) once per state change instead.
    """

    announced: dict[str, str] = field(default_factory=dict)

    def first_time(self, key: str, state: str) -> bool:
        """True (and remember) when ``key`` was not announced for ``state`` yet."""
        if self.announced.get(key) == state:
            return False
        self.announced[key] = state
        return True

    def forget(self, key: str) -> None:
        self.announced.pop(key, None)


class _StopTick(Exception):
    """Internal: ends the tick after the reason was recorded."""


async def advance(
    ref: CanaryRef,
    ports: Ports,
    settings: RolloutSettings | None = None,
    memory: TickMemory | None = None,
) -> Canary | None:
    """Run one tick for the Canary ``ref``; return the Canary as it is after the tick.

    Returns None when the Canary is gone or invalid. Never raises :class:`FlagmanError`.
    """
    tick = _Tick(ports, settings or RolloutSettings(), memory if memory is not None else TickMemory())
    return await tick.run(ref)


class _Tick:
    def __init__(self, ports: Ports, settings: RolloutSettings, memory: TickMemory) -> None:
        self.ports = ports
        self.settings = settings
        self.memory = memory
        self.canary: Canary | None = None
        self._revision: Revision | None = None

    # ----------------------------------------------------------------------------------------------
    # helpers

    @property
    def current(self) -> Canary:
        assert self.canary is not None
        return self.canary

    @property
    def status(self) -> CanaryStatus:
        return self.current.status

    @property
    def phase(self) -> Phase:
        return self.current.status.phase

    async def emit(self, event: Event) -> None:
        await self.ports.recorder.event(self.current, event)

    async def warn_and_stop(self, error: BaseException | str) -> NoReturn:
        await self.emit(Event.warning(str(error)))
        raise _StopTick

    async def alert(self, message: str, severity: AlertSeverity, *, with_metadata: bool = False) -> None:
        await self.ports.recorder.alert(self.current, AlertMessage(message, severity, with_metadata))

    def log(self, message: str, level: LogLevel = LogLevel.INFO) -> None:
        self.ports.recorder.log(self.current, level, message)

    async def revision(self) -> Revision:
        if self._revision is None:
            try:
                self._revision = await self.ports.workloads.revision(self.current)
            except FlagmanError as error:
                await self.warn_and_stop(error)
        assert self._revision is not None
        return self._revision

    async def write(self, status: CanaryStatus) -> None:
        try:
            await self.ports.status.write(self.current.ref, status)
        except FlagmanError as error:
            await self.emit(Event.warning(f"status update failed: {error}"))
            raise _StopTick from error
        self.canary = self.current.with_status(status)

    async def sync_status(
        self, phase: Phase, *, canary_weight: int = 0, iterations: int = 0, failed_checks: int = 0
    ) -> None:
        revision = await self.revision()
        await self.write(
            transitions.sync_status(
                self.status,
                phase,
                revision,
                kind=self.current.target_kind,
                now=self.ports.clock.now(),
                canary_weight=canary_weight,
                iterations=iterations,
                failed_checks=failed_checks,
            )
        )

    async def set_phase(self, phase: Phase) -> None:
        await self.write(
            transitions.set_phase(
                self.status, phase, kind=self.current.target_kind, now=self.ports.clock.now()
            )
        )

    async def set_fields(self, **fields: int) -> None:
        await self.write(transitions.set_fields(self.status, now=self.ports.clock.now(), **fields))

    async def readiness(self, role: Role) -> None:
        """Raise NotReadyError with Flagger's wrapped message when the Deployment is not ready."""
        canary = self.current
        if role == Role.PRIMARY:
            prefix = f"{canary.target_name}-primary.{canary.namespace} not ready: "
            threshold = canary.analysis.effective_primary_ready_threshold
        else:
            prefix = f"canary deployment {canary.target_key} not ready: "
            threshold = canary.analysis.effective_canary_ready_threshold
        try:
            state = await self.ports.workloads.deployment(canary, role)
        except FlagmanError as error:
            raise NotReadyError(prefix + str(error), retriable=True) from error
        try:
            check_deployment_ready(
                state,
                deadline_seconds=canary.spec.effective_progress_deadline_seconds,
                ready_threshold=threshold,
                now=self.ports.clock.now(),
            )
        except NotReadyError as error:
            raise NotReadyError(prefix + str(error), retriable=error.retriable) from error

    # ----------------------------------------------------------------------------------------------
    # the tick

    async def run(self, ref: CanaryRef) -> Canary | None:
        # 0. Read the Canary (the status port may serve it from a watch cache).
        try:
            body = await self.ports.status.get(ref)
        except NotFoundError:
            self.ports.recorder.log(ref, LogLevel.INFO, f"Canary {ref.key} not found")
            return None
        except FlagmanError as error:
            self.ports.recorder.log(ref, LogLevel.ERROR, f"Canary {ref.key} get query error: {error}")
            return None
        try:
            self.canary = Canary.from_dict(body)
        except CanaryValidationError as error:
            await self._invalid(ref, body, error)
            return None
        with contextlib.suppress(_StopTick):
            await self._steps()
        return self.canary

    async def _invalid(self, ref: CanaryRef, body: Mapping[str, Any], error: CanaryValidationError) -> None:
        """An unusable spec: one Warning event and a ``Valid=False`` condition, nothing else touched."""
        message = str(error)
        if not self.memory.first_time("invalid", message):
            return
        ref = CanaryRef.from_body(body) if body else ref
        await self.ports.recorder.event(ref, Event.warning(message))
        status = CanaryStatus.from_dict(body.get("status"), [])
        stamp = transitions.format_time(self.ports.clock.now())
        updated = transitions.with_valid_condition(status, message, stamp)
        if updated != status:
            try:
                await self.ports.status.write(ref, updated)
            except FlagmanError as write_error:
                self.ports.recorder.log(ref, LogLevel.ERROR, f"status update failed: {write_error}")

    async def _steps(self) -> None:
        canary = self.current
        self.memory.forget("invalid")
        if self.status.condition("Valid") is not None:
            stamp = transitions.format_time(self.ports.clock.now())
            await self.write(transitions.with_valid_condition(self.status, None, stamp))

        # 1. Suspended: nothing is reconciled. FIX: the event is written once, not every tick.
        if canary.spec.suspend:
            if self.memory.first_time("suspend", "suspended"):
                await self.emit(Event.normal("skipping canary run as object is suspended"))
            raise _StopTick
        self.memory.forget("suspend")

        # 2. Provider: only the kubernetes provider is implemented; others are left untouched.
        provider = canary.spec.provider or self.settings.mesh_provider
        if provider not in SUPPORTED_PROVIDERS:
            if self.memory.first_time("provider", provider):
                await self.emit(Event.warning(f"provider {provider} is not supported"))
            raise _StopTick
        self.memory.forget("provider")

        # 3. Target metadata (selector label, discovered ports).
        try:
            target = await self.ports.workloads.discover(canary)
        except FlagmanError as error:
            await self.warn_and_stop(error)

        # 4. Canary and primary Services.
        try:
            await self.ports.router.initialize(canary, target)
        except FlagmanError as error:
            await self.warn_and_stop(error)

        initializing = self.phase in _INITIALIZING
        skip = canary.skip_analysis

        # 5. Metric providers availability (an event only).
        if not skip and initializing:
            try:
                await self.ports.metrics.check_providers(canary)
            except FlagmanError as error:
                await self.emit(Event.error(f"Error checking metric providers: {error}"))
            else:
                await self.emit(Event.normal("all the metrics providers are available!"))

        # 6. Primary Deployment (created when absent, in any phase); wait for it while initializing.
        try:
            await self.ports.workloads.ensure_primary(canary, target)
        except FlagmanError as error:
            await self.warn_and_stop(error)
        if initializing and not skip:
            try:
                await self.readiness(Role.PRIMARY)
            except NotReadyError as error:
                await self.emit(Event.warning(str(error)))
                if not error.retriable:
                    await self.rollback(deadline_error=error)
                raise _StopTick from error

        # 7. Primary autoscaler (create only).
        try:
            await self.ports.workloads.ensure_primary_autoscaler(canary, target, update=False)
        except FlagmanError as error:
            await self.warn_and_stop(error)

        # 8. Apex Service. FIX: after a failed promotion it selects the canary pods.
        await self.reconcile_apex(target)

        # 9. Scale the target to zero once the apex serves the primary.
        if initializing:
            self.log(f"Scaling down {canary.target_kind} {canary.target_key}")
            try:
                await self.ports.workloads.scale_to_zero(canary)
            except FlagmanError as error:
                await self.warn_and_stop(
                    f"scaling down canary {canary.target_kind} {canary.target_key} failed: {error}"
                )

        # 10. Mesh router: nothing for the kubernetes provider.

        # 11. Bootstrap done.
        if initializing:
            await self.sync_status(Phase.INITIALIZED)
            await self.emit(Event.normal(f"Initialization done! {canary.key}"))
            await self.alert(
                f"New {canary.target_kind} detected, initialization completed.",
                AlertSeverity.INFO,
                with_metadata=True,
            )
        await self.adopt_foreign_hash()

        # 12. Anything to do?
        if not await self.should_advance():
            self.ports.telemetry.canary_status(self.current, self.phase)
            raise _StopTick

        # 13. Primary readiness.
        if not skip:
            try:
                await self.readiness(Role.PRIMARY)
            except NotReadyError as error:
                await self.emit(Event.warning(str(error)))
                if not error.retriable:
                    if self.phase in (Phase.PROMOTING, Phase.FINALISING):
                        await self.failed_promotion(target, error)
                    else:
                        await self.rollback(deadline_error=error)
                raise _StopTick from error

        # 14. Routes: the kubernetes provider reports canary 100 while iterations > 0.
        canary_routed = 100 if self.status.iterations > 0 or self.status.canary_weight >= 100 else 0
        self.ports.telemetry.canary_weights(
            self.current, primary=100 - canary_routed, canary_weight=canary_routed
        )

        # 15. New revision: confirm-rollout gate, scale the canary up, Progressing. Ends the tick.
        if self.phase not in _IN_ANALYSIS:
            await self.start_new_revision()
            raise _StopTick

        # 16. Change during the analysis restarts it.
        if self.phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION) and await self.has_changed():
            await self.emit(
                Event.normal(f"New revision detected! Restarting analysis for {canary.target_key}")
            )
            await self.sync_status(Phase.PROGRESSING, canary_weight=self.carried_weight())
            raise _StopTick

        # 17. Canary readiness.
        try:
            await self.readiness(Role.CANARY)
        except NotReadyError as error:
            await self.emit(Event.warning(str(error)))
            if not error.retriable:
                await self.rollback(deadline_error=error)
            raise _StopTick from error

        # 18. skipAnalysis: promote at once.
        if skip:
            await self.skip_analysis_promotion(target)
            raise _StopTick

        # 19. Manual rollback webhooks.
        if self.phase in (Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION):
            await self.rollback_hooks()

        # 20. Promoting: the primary finished its rolling update (step 13 passed).
        if self.phase == Phase.PROMOTING:
            try:
                await self.ports.workloads.ensure_primary_autoscaler(self.current, target, update=True)
            except FlagmanError as error:
                await self.warn_and_stop(error)
            await self.set_phase(Phase.FINALISING)
            raise _StopTick

        # 21. Finalising: scale the canary down, Succeeded.
        if self.phase == Phase.FINALISING:
            await self.finalise()
            raise _StopTick

        # 22. Threshold reached.
        threshold = canary.analysis.effective_threshold
        if self.status.failed_checks >= threshold:
            await self.rollback()
            raise _StopTick

        # 23. From here the tick duration is observed.
        started = self.ports.clock.monotonic()
        try:
            await self.analyse_and_iterate(target)
        finally:
            self.ports.telemetry.tick_duration(self.current, self.ports.clock.monotonic() - started)

    # ----------------------------------------------------------------------------------------------
    # steps in detail

    async def reconcile_apex(self, target: Target) -> None:
        role = Role.CANARY if self.status.canary_weight >= 100 else Role.PRIMARY
        try:
            await self.ports.router.reconcile(self.current, target, apex_selects=role)
        except FlagmanError as error:
            await self.warn_and_stop(error)

    def copying_message(self) -> str:
        canary = self.current
        primary = f"{canary.target_name}-primary.{canary.namespace}"
        return f"Copying {canary.target_key} template spec to {primary}"

    def carried_weight(self) -> int:
        """FIX: after a failed promotion the apex keeps selecting the canary pods (weight 100) until a
        later promotion reaches Finalising or a rollback happens."""
        return 100 if self.status.canary_weight >= 100 else 0

    async def adopt_foreign_hash(self) -> None:
        """A status written by Go Flagger: trust it for the running template and switch to our hash."""
        status = self.status
        if not is_foreign_hash(status.last_applied_spec):
            return
        revision = await self.revision()
        promoted = status.last_promoted_spec
        if promoted == status.last_applied_spec:
            promoted = revision.spec_hash
        self.log(f"Adopting the status written by Flagger for {self.current.key}")
        await self.write(status.replace(last_applied_spec=revision.spec_hash, last_promoted_spec=promoted))

    async def has_changed(self) -> bool:
        revision = await self.revision()
        status = self.status
        if has_target_changed(revision.spec_hash, status.last_applied_spec, status.last_promoted_spec):
            return True
        return have_configs_changed(revision.tracked_configs, status.tracked_configs)

    async def should_advance(self) -> bool:
        """Step 12. FIX: a Failed canary's status is not rewritten here (Flagger absorbed the revision)."""
        if self.phase in _ADVANCING:
            return True
        return await self.has_changed()

    async def start_new_revision(self) -> None:
        """Step 15 for Initialized, Succeeded, Failed and Waiting."""
        canary = self.current
        if self.phase == Phase.WAITING:
            # FIX: rollback webhooks are honoured while waiting for approval, as documented.
            await self.rollback_hooks()
        if not await self.confirm_rollout():
            return
        await self.emit(
            Event.normal(f"New revision detected! Scaling up {canary.target_key}", phase=Phase.PROGRESSING)
        )
        await self.alert(
            "New revision detected, progressing canary analysis.", AlertSeverity.INFO, with_metadata=True
        )
        try:
            await self.ports.workloads.scale_from_zero(canary)
        except FlagmanError as error:
            await self.emit(Event.error(str(error)))
            raise _StopTick from error
        await self.sync_status(Phase.PROGRESSING, canary_weight=self.carried_weight())

    async def confirm_rollout(self) -> bool:
        for hook in self.current.analysis.hooks("confirm-rollout"):
            try:
                await self.ports.webhooks.call(self.current, hook, self.phase)
            except WebhookError:
                if self.phase != Phase.WAITING:
                    await self.set_phase(Phase.WAITING)
                    await self.emit(
                        Event.warning(f"Halt {self.current.key} advancement waiting for approval {hook.name}")
                    )
                    if not hook.mute_alert:
                        await self.alert("Canary is waiting for approval.", AlertSeverity.WARN)
                return False
            await self.emit(Event.normal(f"Confirm-rollout check {hook.name} passed"))
        return True

    async def rollback_hooks(self) -> None:
        """Step 19: any rollback hook that answers 2xx rolls the canary back (manual rollback)."""
        canary = self.current
        for hook in canary.analysis.hooks("rollback"):
            try:
                await self.ports.webhooks.call(canary, hook, self.phase)
            except WebhookError:
                state = f"{self.phase.value}/{self.status.last_applied_spec}"
                if self.memory.first_time(f"rollback-hook:{hook.name}", state):
                    await self.emit(Event.normal(f"Rollback hook {hook.name} not signaling a rollback"))
                continue
            await self.emit(Event.warning(f"Rollback check {hook.name} passed"))
            await self.emit(Event.warning(f"Rolling back {canary.key} manual webhook invoked"))
            await self.alert("Rolling back manual webhook invoked", AlertSeverity.WARN)
            await self.rollback()
            raise _StopTick

    async def analyse_and_iterate(self, target: Target) -> None:
        canary = self.current
        # 24. First analysis tick: pre-rollout hooks; later ticks: rollout hooks and metrics.
        if self.status.iterations == 0:
            await self.emit(Event.normal(f"Starting canary analysis for {canary.target_key}"))
            if not await self.pre_rollout():
                await self.set_fields(failed_checks=self.status.failed_checks + 1)
                raise _StopTick
        elif not await self.analysis():
            await self.set_fields(failed_checks=self.status.failed_checks + 1)
            raise _StopTick

        # 25. Kubernetes provider adjustments (in memory only).
        iterations = canary.analysis.iterations
        adjustments: list[str] = []
        if canary.analysis.match:
            adjustments.append("A/B testing is not supported when using the kubernetes provider")
        if iterations < 1:
            adjustments.append("Progressive traffic is not supported when using the kubernetes provider")
            adjustments.append(f"Setting canaryAnalysis.iterations: {KUBERNETES_DEFAULT_ITERATIONS}")
            iterations = KUBERNETES_DEFAULT_ITERATIONS
        if adjustments and self.memory.first_time("kubernetes-adjustments", self.status.last_applied_spec):
            for message in adjustments:
                await self.emit(Event.warning(message))

        # 26. Blue/Green.
        await self.blue_green(target, iterations)

    async def pre_rollout(self) -> bool:
        canary = self.current
        for hook in canary.analysis.hooks("pre-rollout"):
            try:
                await self.ports.webhooks.call(canary, hook, Phase.PROGRESSING)
            except WebhookError as error:
                await self.emit(
                    Event.warning(
                        f"Halt {canary.key} advancement pre-rollout check {hook.name} failed {error}"
                    )
                )
                return False
            await self.emit(Event.normal(f"Pre-rollout check {hook.name} passed"))
        return True

    async def analysis(self) -> bool:
        canary = self.current
        for hook in canary.analysis.hooks("rollout"):
            try:
                await self.ports.webhooks.call(canary, hook, Phase.PROGRESSING)
            except WebhookError as error:
                await self.emit(
                    Event.warning(f"Halt {canary.key} advancement external check {hook.name} failed {error}")
                )
                return False
        try:
            result = await self.ports.metrics.run_checks(canary)
        except FlagmanError as error:
            await self.emit(Event.error(str(error)))
            return False
        for event in result.events:
            await self.emit(event)
        for metric, value in result.values.items():
            self.ports.telemetry.metric_value(canary, metric, value)
        return result.passed

    async def blue_green(self, target: Target, iterations: int) -> None:
        """Spec 2.6. FIX: a denied confirm-promotion keeps the iteration count (no N-1/N oscillation)."""
        canary = self.current
        done = self.status.iterations
        if iterations > done:
            await self.set_fields(iterations=done + 1)
            await self.emit(Event.normal(f"Advance {canary.key} canary iteration {done + 1}/{iterations}"))
            return
        if not await self.confirm_promotion():
            return
        if iterations == done:
            await self.set_fields(iterations=iterations + 1)
            return
        await self.emit(Event.normal(self.copying_message()))
        try:
            await self.ports.workloads.promote(canary, target)
        except FlagmanError as error:
            await self.warn_and_stop(error)
        await self.set_phase(Phase.PROMOTING)

    async def confirm_promotion(self) -> bool:
        canary = self.current
        for hook in canary.analysis.hooks("confirm-promotion"):
            try:
                await self.ports.webhooks.call(canary, hook, Phase.PROGRESSING)
            except WebhookError:
                if self.phase != Phase.WAITING_PROMOTION:
                    await self.set_phase(Phase.WAITING_PROMOTION)
                    await self.emit(
                        Event.warning(
                            f"Halt {canary.key} advancement waiting for promotion approval {hook.name}"
                        )
                    )
                    if not hook.mute_alert:
                        await self.alert("Canary promotion is waiting for approval.", AlertSeverity.WARN)
                return False
            await self.emit(Event.normal(f"Confirm-promotion check {hook.name} passed"))
        return True

    async def finalise(self) -> None:
        canary = self.current
        try:
            await self.ports.workloads.scale_to_zero(canary)
        except FlagmanError as error:
            await self.warn_and_stop(error)
        await self.set_phase(Phase.SUCCEEDED)
        self.ports.telemetry.canary_status(self.current, Phase.SUCCEEDED)
        self.ports.telemetry.promotion(self.current, skipped=False)
        await self.post_rollout()
        await self.emit(Event.normal(f"Promotion completed! Scaling down {canary.target_key}"))
        await self.alert("Canary analysis completed successfully, promotion finished.", AlertSeverity.INFO)

    async def skip_analysis_promotion(self, target: Target) -> None:
        canary = self.current
        await self.emit(Event.normal(self.copying_message()))
        try:
            await self.ports.workloads.promote(canary, target)
            await self.ports.workloads.ensure_primary_autoscaler(canary, target, update=True)
            await self.ports.workloads.scale_to_zero(canary)
        except FlagmanError as error:
            await self.warn_and_stop(error)
        await self.set_phase(Phase.SUCCEEDED)
        self.ports.telemetry.canary_status(self.current, Phase.SUCCEEDED)
        self.ports.telemetry.promotion(self.current, skipped=True)
        await self.post_rollout()
        await self.emit(
            Event.normal(f"Promotion completed! Canary analysis was skipped for {canary.target_key}")
        )
        await self.alert("Canary analysis was skipped, promotion finished.", AlertSeverity.INFO)

    async def post_rollout(self) -> None:
        canary = self.current
        for hook in canary.analysis.hooks("post-rollout"):
            try:
                await self.ports.webhooks.call(canary, hook, self.phase)
            except WebhookError as error:
                await self.emit(Event.warning(f"Post-rollout hook {hook.name} failed {error}"))
                return
            await self.emit(Event.normal(f"Post-rollout check {hook.name} passed"))

    async def rollback(self, *, deadline_error: NotReadyError | None = None) -> None:
        """Spec 2.9. FIX: failedChecks stays visible; deadline-driven rollbacks say so."""
        canary = self.current
        failed_checks = self.status.failed_checks
        threshold = canary.analysis.effective_threshold
        if failed_checks >= threshold:
            await self.emit(
                Event.warning(f"Rolling back {canary.key} failed checks threshold reached {failed_checks}")
            )
            await self.alert(f"Failed checks threshold reached {failed_checks}", AlertSeverity.ERROR)
        elif deadline_error is not None:
            await self.emit(
                Event.warning(f"Rolling back {canary.key} progress deadline exceeded {deadline_error}")
            )
            await self.alert(f"Progress deadline exceeded {deadline_error}", AlertSeverity.ERROR)
        await self.emit(Event.warning(f"Canary failed! Scaling down {canary.key}", phase=Phase.FAILED))
        self.ports.telemetry.canary_weights(canary, primary=100, canary_weight=0)
        try:
            await self.ports.workloads.scale_to_zero(canary)
        except FlagmanError as error:
            await self.warn_and_stop(error)
        await self.sync_status(Phase.FAILED, failed_checks=failed_checks)
        self.ports.telemetry.canary_status(self.current, Phase.FAILED)
        self.ports.telemetry.failure(self.current)
        await self.post_rollout()

    async def failed_promotion(self, target: Target, error: NotReadyError) -> None:
        """Spec 2.8. FIX: the apex Service is pointed at the canary pods, so ``canaryWeight: 100`` is true."""
        canary = self.current
        await self.emit(Event.warning(f"Promotion of {canary.target_key} failed, primary not ready: {error}"))
        await self.alert(f"Promotion failed, primary not ready: {error}", AlertSeverity.ERROR)
        self.ports.telemetry.canary_weights(canary, primary=0, canary_weight=100)
        await self.sync_status(Phase.FAILED, canary_weight=100, failed_checks=self.status.failed_checks)
        try:
            await self.ports.router.reconcile(self.current, target, apex_selects=Role.CANARY)
        except FlagmanError as route_error:
            await self.emit(Event.warning(str(route_error)))
        self.ports.telemetry.canary_status(self.current, Phase.FAILED)
        self.ports.telemetry.failure(self.current)
        await self.post_rollout()
