"""The narrow interfaces ("ports") one tick of the state machine acts through.

``controller/rollout`` imports no Kubernetes or HTTP library: everything it observes or changes goes
through these protocols. Production adapters live in ``controller/kube`` (workloads, router, recorder,
status), ``controller/analysis`` (metrics), ``controller/webhooks.py`` (webhooks) and
``controller/telemetry.py`` (telemetry); ``tests/controller/rollout/fakes.py`` has in-memory fakes.

Error contract: every method raises only :mod:`controller.errors` types. ``str(error)`` must be the
message Flagger would record (the tick records it verbatim as a Warning event), e.g.
``deployment podinfo.test get query error: ...``. Anything else that escapes is a bug and propagates
to the scheduler, which logs it and retries on the next tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from controller.api import Canary, CanaryRef, CanaryStatus, Phase, Webhook
from controller.rollout.readiness import DaemonSetState, DeploymentState, WorkloadState

__all__ = [
    "AlertMessage",
    "AlertSeverity",
    "AnalysisResult",
    "Clock",
    "DaemonSetState",
    "DeploymentState",
    "Event",
    "EventType",
    "LogLevel",
    "Metrics",
    "NoPreviousVersions",
    "NullTelemetry",
    "Ports",
    "PreviousState",
    "PreviousVersions",
    "Recorder",
    "Revision",
    "Role",
    "Router",
    "ServicePort",
    "StatusStore",
    "Target",
    "Telemetry",
    "Webhooks",
    "WorkloadState",
    "Workloads",
]


# --------------------------------------------------------------------------------------------------
# Value types exchanged through the ports


class Role(StrEnum):
    """Which of the two Deployments (and their pods) something refers to."""

    PRIMARY = "primary"
    """``{target}-primary``: the promoted ("blue") version."""
    CANARY = "canary"
    """``{target}``: the target Deployment, running the version under analysis ("green")."""
    PREVIOUS = "previous"
    """``{target}-previous``: the version a promotion replaced, kept warm for an instant rollback
    (``flagman.app/scale-down-delay-seconds``, :mod:`controller.rollout.warm`)."""


@dataclass(frozen=True)
class ServicePort:
    """A port of the generated Services: the main one (``spec.service``) or one ``portDiscovery`` found."""

    name: str
    port: int
    target_port: int | str
    protocol: str = "TCP"
    app_protocol: str = ""


@dataclass(frozen=True)
class Target:
    """What the target Deployment tells us (Flagger's ``GetMetadata``, spec 1.1).

    ``label``/``value`` is the first ``-selector-labels`` key found in ``spec.selector.matchLabels``;
    every selector Flagman writes uses this pair (``{value}-primary`` for the primary).
    ``ports`` holds the extra container ports when ``service.portDiscovery`` is on, else is empty.
    """

    label: str
    value: str
    ports: tuple[ServicePort, ...] = ()


@dataclass(frozen=True)
class Revision:
    """Identity of the version currently in the target Deployment.

    ``spec_hash`` is the canonical hash of ``spec.template``
    (:func:`controller.rollout.revision.template_hash`);
    ``tracked_configs`` maps ``configmap/<name>`` / ``secret/<name>`` to the 16-hex-char checksum of
    each tracked object's data (empty when config tracking is disabled or nothing is referenced).
    """

    spec_hash: str
    tracked_configs: Mapping[str, str] = field(default_factory=dict)


class EventType(StrEnum):
    """Kubernetes event type (the reason is always ``Synced``)."""

    NORMAL = "Normal"
    WARNING = "Warning"


class LogLevel(StrEnum):
    """Level at which an event's text is also logged (Flagger's warning helper logs at info)."""

    DEBUG = "debug"
    INFO = "info"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    """One event on the Canary: Kubernetes event + JSON log line + event webhooks.

    ``phase`` is the phase sent in the event-webhook payload; None means the canary's current phase.
    """

    type: EventType
    message: str
    level: LogLevel = LogLevel.INFO
    phase: Phase | None = None

    @classmethod
    def normal(cls, message: str, *, phase: Phase | None = None) -> Event:
        return cls(EventType.NORMAL, message, LogLevel.INFO, phase)

    @classmethod
    def warning(cls, message: str, *, phase: Phase | None = None) -> Event:
        """Flagger's ``recordEventWarningf``: a Warning event logged at info level."""
        return cls(EventType.WARNING, message, LogLevel.INFO, phase)

    @classmethod
    def error(cls, message: str, *, phase: Phase | None = None) -> Event:
        """Flagger's ``recordEventErrorf``: a Warning event logged at error level."""
        return cls(EventType.WARNING, message, LogLevel.ERROR, phase)


class AlertSeverity(StrEnum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True)
class AlertMessage:
    """A chat notification (spec 6.2). ``with_metadata`` adds the Target/threshold/deadline fields."""

    message: str
    severity: AlertSeverity
    with_metadata: bool = False


@dataclass(frozen=True)
class AnalysisResult:
    """Outcome of the metric checks of one tick (spec 5.2, after the rollout webhooks).

    ``events`` are what the tick must record, in order (``Halt ... advancement success rate 69.17% < 99%``,
    ``Prometheus query failed: ...``); ``values`` maps metric names to the measured values for the
    ``flagger_canary_metric_analysis`` gauge (durations in seconds).
    """

    passed: bool
    events: tuple[Event, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The ports


class Workloads(Protocol):
    """Target and primary Deployments, tracked configs, the primary autoscaler (``controller/kube``)."""

    async def discover(self, canary: Canary) -> Target:
        """Selector label (+ ports with portDiscovery) of the target. Raises TargetError."""
        ...

    async def revision(self, canary: Canary) -> Revision:
        """Hash of the target's pod template and checksums of its tracked configs, as they are now."""
        ...

    async def ensure_primary(self, canary: Canary, target: Target) -> None:
        """Create ``{target}-primary`` (and the ``-primary`` config copies) when absent; never update."""
        ...

    async def deployment(self, canary: Canary, role: Role) -> WorkloadState:
        """Readiness snapshot of the primary or the canary workload, a Deployment or a DaemonSet as the
        target's kind (reads may come from a cache).

        A failed read raises ``KubeError("deployment {name}.{ns} get query error: ...")``.
        """
        ...

    async def ensure_primary_autoscaler(self, canary: Canary, target: Target, *, update: bool) -> None:
        """No-op without ``autoscalerRef``. Creates ``{ref}-primary`` when missing; with ``update`` also
        syncs min/max/metrics/behavior from the target HPA (done once per promotion)."""
        ...

    async def promote(self, canary: Canary, target: Target) -> None:
        """Copy the target's template (and tracked configs) to the primary (spec 1.3)."""
        ...

    async def scale_to_zero(self, canary: Canary) -> None:
        """``spec.replicas: 0`` on the target."""
        ...

    async def scale_from_zero(self, canary: Canary) -> None:
        """Scale the target up for analysis (spec 1.7 replica rules)."""
        ...

    async def scale_up_replicas(self, canary: Canary) -> int:
        """The replicas ``scale_from_zero`` would give the target (spec 1.7), without scaling it."""
        ...

    async def scale(self, canary: Canary, replicas: int) -> None:
        """``spec.replicas`` of the target Deployment (Flagman's preview replica count)."""
        ...

    async def revert(self, canary: Canary) -> None:
        """``revertOnDeletion`` (Flagger's ``Finalize``): give the target back its replicas (the
        primary's, or scaled from zero when there is no primary) and resume its paused autoscaler."""
        ...


class Router(Protocol):
    """The three ClusterIP Services of the kubernetes provider (``controller/kube``)."""

    async def initialize(self, canary: Canary, target: Target) -> None:
        """Reconcile ``{svc}-canary`` (selects ``{value}``) then ``{svc}-primary`` (``{value}-primary``)."""
        ...

    async def reconcile(self, canary: Canary, target: Target, *, apex_selects: Role) -> None:
        """Reconcile the apex ``{svc}`` Service so that it selects the pods of ``apex_selects``.

        Normally PRIMARY; CANARY after a failed promotion (the canary pods passed the analysis while the
        primary is broken) and during a promotion with the selector switch; PREVIOUS after an instant
        rollback, until the primary runs the previous version again.
        """
        ...

    async def finalize(self, canary: Canary, target: Target) -> None:
        """``revertOnDeletion``: an apex Service the Canary adopted (not one it created, which goes with
        the Canary) selects the target's pods again (the selector of ``kubectl apply``'s last applied
        configuration when there is one)."""
        ...


@dataclass(frozen=True)
class PreviousState:
    """The warm previous version: its Deployment's readiness and the revision (template hash) it runs."""

    workload: DeploymentState
    revision: str


class PreviousVersions(Protocol):
    """``{target}-previous``: the version a promotion replaced, kept running (``controller/kube``)."""

    async def keep(self, canary: Canary, target: Target, revision: str) -> None:
        """Create or replace ``{target}-previous`` from the primary as it is now (before a promotion
        changes it): same pod template and replicas, pods labelled ``{value}-previous``; ``revision``
        (the promoted hash it runs) is recorded on it."""
        ...

    async def state(self, canary: Canary) -> PreviousState | None:
        """The previous version, None when there is none or it is scaled to zero."""
        ...

    async def restore_primary(self, canary: Canary, target: Target) -> None:
        """Copy the previous version's pod template back to the primary (after an instant rollback)."""
        ...

    async def scale_down(self, canary: Canary) -> None:
        """``spec.replicas: 0`` on ``{target}-previous`` (as Argo scales the old ReplicaSet down); the
        Deployment stays, owned by the Canary, and is replaced at the next promotion."""
        ...


class NoPreviousVersions:
    """No previous version is ever kept (tools and tests that do not exercise the option)."""

    async def keep(self, canary: Canary, target: Target, revision: str) -> None:
        return None

    async def state(self, canary: Canary) -> PreviousState | None:
        return None

    async def restore_primary(self, canary: Canary, target: Target) -> None:
        return None

    async def scale_down(self, canary: Canary) -> None:
        return None


class Metrics(Protocol):
    """Metric analysis (``controller/analysis``)."""

    async def check_providers(self, canary: Canary) -> None:
        """Availability probe of every provider the canary uses (``vector(1)``). Raises AnalysisError."""
        ...

    async def run_checks(self, canary: Canary) -> AnalysisResult:
        """Builtin, inline-query and template metric checks of one tick, in Flagger's order."""
        ...


class Webhooks(Protocol):
    """Webhook calls (``controller/webhooks.py``)."""

    async def call(self, canary: Canary, webhook: Webhook, phase: Phase) -> None:
        """POST the payload (phase, checksum of the revision under test, metadata).

        Returns when the hook approved (status <= 202); raises WebhookError whose text is the reason.
        """
        ...


class Recorder(Protocol):
    """Events, logs and alerts (``controller/kube/recorder.py``; it hands alerts to ``controller/alerts``)."""

    async def event(self, canary: Canary | CanaryRef, event: Event) -> None:
        """Record a Kubernetes event (reason ``Synced``), log it with ``canary={name}.{ns}`` and forward
        it to the event webhooks. Must not raise: failures are logged by the adapter."""
        ...

    async def alert(self, canary: Canary, alert: AlertMessage) -> None:
        """Send a chat notification to the canary's alert providers. Must not raise."""
        ...

    def log(self, canary: Canary | CanaryRef, level: LogLevel, message: str) -> None:
        """A log line only (no event), e.g. ``Scaling down Deployment podinfo.test``."""
        ...


class StatusStore(Protocol):
    """Reading the Canary and writing its status subresource (``controller/kube``)."""

    async def get(self, ref: CanaryRef) -> Mapping[str, Any]:
        """The Canary's current JSON body (may come from a watch cache). Raises NotFoundError."""
        ...

    async def write(self, ref: CanaryRef, status: CanaryStatus) -> None:
        """Write ``status.to_dict()`` through the status subresource, retrying on conflict.

        Takes a ref (not a Canary) so that the status of an invalid Canary can be written too.
        """
        ...

    async def set_finalizer(self, ref: CanaryRef, finalizer: str, *, present: bool) -> None:
        """Add or remove ``finalizer`` in the Canary's ``metadata.finalizers`` (others untouched)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Current wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for durations."""
        ...


class Telemetry(Protocol):
    """Flagger's Prometheus metrics (``controller/telemetry.py``)."""

    def canary_status(self, canary: Canary, phase: Phase) -> None:
        """``flagger_canary_status``: 0 Progressing, 2 Failed, 1 otherwise."""
        ...

    def canary_weights(self, canary: Canary, *, primary: int, canary_weight: int) -> None:
        """``flagger_canary_weight`` for ``{target}-primary`` and ``{target}``."""
        ...

    def promotion(self, canary: Canary, *, skipped: bool) -> None:
        """``flagger_canary_successes_total`` (analysis_status ``skipped`` or ``completed``)."""
        ...

    def failure(self, canary: Canary) -> None:
        """``flagger_canary_failures_total``."""
        ...

    def tick_duration(self, canary: Canary, seconds: float) -> None:
        """``flagger_canary_duration_seconds``."""
        ...

    def metric_value(self, canary: Canary, metric: str, value: float) -> None:
        """``flagger_canary_metric_analysis``."""
        ...


class NullTelemetry:
    """Telemetry that records nothing (tests and tools that do not serve /metrics)."""

    def canary_status(self, canary: Canary, phase: Phase) -> None:
        return None

    def canary_weights(self, canary: Canary, *, primary: int, canary_weight: int) -> None:
        return None

    def promotion(self, canary: Canary, *, skipped: bool) -> None:
        return None

    def failure(self, canary: Canary) -> None:
        return None

    def tick_duration(self, canary: Canary, seconds: float) -> None:
        return None

    def metric_value(self, canary: Canary, metric: str, value: float) -> None:
        return None


@dataclass(frozen=True)
class Ports:
    """Everything one tick needs, bundled so the composition root (`controller.wiring`) builds it once."""

    workloads: Workloads
    router: Router
    metrics: Metrics
    webhooks: Webhooks
    recorder: Recorder
    status: StatusStore
    clock: Clock
    telemetry: Telemetry = field(default_factory=NullTelemetry)
    previous: PreviousVersions = field(default_factory=NoPreviousVersions)
