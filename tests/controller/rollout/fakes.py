"""In-memory fakes of every port of ``controller.rollout.ports`` plus a fake clock.

``World`` is a tiny cluster: one Canary body, the target's pod template and tracked configs, the
readiness of both Deployments, the apex selector and target replicas. Each fake records what it was
asked to do so the tests can assert on observable effects (status, events, calls), tick by tick.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.api import Canary, CanaryRef, CanaryStatus, Phase, Webhook
from controller.errors import AnalysisError, KubeError, NotFoundError, TargetError, WebhookError
from controller.rollout import RolloutSettings, TickMemory, advance
from controller.rollout.ports import (
    AlertMessage,
    AnalysisResult,
    DeploymentState,
    Event,
    LogLevel,
    Ports,
    Revision,
    Role,
    Target,
)
from controller.rollout.readiness import DeploymentCondition
from controller.rollout.revision import template_hash
from tests.data import tutorial

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ready_deployment(name: str, replicas: int = 1) -> DeploymentState:
    return DeploymentState(
        name=name,
        generation=1,
        observed_generation=1,
        spec_replicas=replicas,
        replicas=replicas,
        updated_replicas=replicas,
        available_replicas=replicas,
    )


def updating_deployment(name: str, replicas: int = 1) -> DeploymentState:
    """A rollout in progress: ``0 out of N new replicas have been updated`` (retriable)."""
    return DeploymentState(
        name=name, generation=2, observed_generation=2, spec_replicas=replicas, replicas=replicas
    )


def stuck_deployment(name: str, since: datetime) -> DeploymentState:
    """Kubernetes gave up: ProgressDeadlineExceeded (non-retriable)."""
    return DeploymentState(
        name=name,
        generation=2,
        observed_generation=2,
        spec_replicas=1,
        replicas=1,
        updated_replicas=1,
        available_replicas=0,
        conditions=(
            DeploymentCondition("Progressing", "False", "ProgressDeadlineExceeded", since),
            DeploymentCondition("Available", "False", "MinimumReplicasUnavailable", since),
        ),
    )


def canary_body(
    *,
    name: str = "podinfo",
    namespace: str = "default",
    iterations: int = 10,
    threshold: int = 2,
    webhooks: list[dict[str, Any]] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    **spec_overrides: Any,
) -> dict[str, Any]:
    """The tutorial's Canary in ``namespace``, without its webhooks unless given (autoscaling/v2 HPA)."""
    body = tutorial.canary()
    body["metadata"] = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    spec = body["spec"]
    spec["autoscalerRef"]["apiVersion"] = "autoscaling/v2"
    analysis = spec["analysis"]
    analysis["threshold"] = threshold
    analysis["iterations"] = iterations
    if metrics is not None:
        analysis["metrics"] = metrics
    analysis["webhooks"] = webhooks or []
    spec.update(spec_overrides)
    return body


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.moment = start
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.mono += seconds


HookAnswer = bool | str | Callable[[Webhook, Phase], bool | str]
"""True approves; False or an error text denies (the text becomes the WebhookError message)."""


@dataclass
class World:
    """The observable state of one fake cluster."""

    body: dict[str, Any]
    template: dict[str, Any] = field(
        default_factory=lambda: {
            "metadata": {"labels": {"app": "podinfo"}},
            "spec": {"containers": [{"name": "podinfod", "image": "ghcr.io/stefanprodan/podinfo:6.0.0"}]},
        }
    )
    configs: dict[str, str] = field(default_factory=dict)
    primary: DeploymentState = field(default_factory=lambda: ready_deployment("podinfo-primary"))
    canary: DeploymentState = field(default_factory=lambda: ready_deployment("podinfo"))
    primary_exists: bool = False
    primary_image: str = ""
    primary_configs: dict[str, str] = field(default_factory=dict)
    target_replicas: int = 1
    full_replicas: int = 1
    """What Flagger's scale-from-zero rule would give the target (spec 1.7)."""
    apex_selects: Role | None = None
    services: set[str] = field(default_factory=set)
    autoscaler: dict[str, int] = field(default_factory=dict)
    selector_error: str = ""
    revert_error: str = ""
    hook_answers: dict[str, HookAnswer] = field(default_factory=dict)
    hook_calls: list[tuple[str, Phase]] = field(default_factory=list)
    results: list[AnalysisResult] = field(default_factory=list)
    default_result: AnalysisResult = field(default_factory=lambda: AnalysisResult(passed=True))
    provider_error: str = ""
    analysis_runs: int = 0
    checked_targets: list[str] = field(default_factory=list)
    """``{{ target }}`` of each metric analysis (the primary's name after a promotion)."""
    events: list[tuple[str, str]] = field(default_factory=list)
    event_phases: list[Phase | None] = field(default_factory=list)
    alerts: list[AlertMessage] = field(default_factory=list)
    logs: list[tuple[LogLevel, str]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    status_writes: int = 0
    promotions: list[bool] = field(default_factory=list)
    failures: int = 0
    weights: list[tuple[int, int]] = field(default_factory=list)
    status_metric: list[Phase] = field(default_factory=list)

    # -- convenience for tests --------------------------------------------------------------------

    @property
    def status(self) -> CanaryStatus:
        return CanaryStatus.from_dict(self.body.get("status"))

    @property
    def phase(self) -> Phase:
        return self.status.phase

    def messages(self) -> list[str]:
        return [message for _, message in self.events]

    def take_messages(self) -> list[str]:
        messages = self.messages()
        self.events.clear()
        self.event_phases.clear()
        return messages

    def set_image(self, image: str) -> None:
        """``kubectl set image``: a new pod template (the target Deployment rolls out)."""
        self.template = copy.deepcopy(self.template)
        self.template["spec"]["containers"][0]["image"] = image

    @property
    def image(self) -> str:
        return str(self.template["spec"]["containers"][0]["image"])

    def set_status(self, **fields: Any) -> None:
        status = self.body.setdefault("status", {})
        status.update(fields)


class FakeWorkloads:
    def __init__(self, world: World) -> None:
        self.world = world

    async def discover(self, canary: Canary) -> Target:
        if self.world.selector_error:
            raise TargetError(self.world.selector_error)
        return Target(label="app", value=canary.target_name)

    async def revision(self, canary: Canary) -> Revision:
        return Revision(
            spec_hash=template_hash(self.world.template), tracked_configs=dict(self.world.configs)
        )

    async def ensure_primary(self, canary: Canary, target: Target) -> None:
        if not self.world.primary_exists:
            self.world.primary_exists = True
            self.world.primary_image = self.world.image
            self.world.primary_configs = dict(self.world.configs)
            self.world.actions.append("create-primary")

    async def deployment(self, canary: Canary, role: Role) -> DeploymentState:
        if role == Role.PRIMARY:
            if not self.world.primary_exists:
                raise NotFoundError(
                    f"deployment {canary.target_name}-primary.{canary.namespace} get query error"
                )
            return self.world.primary
        return self.world.canary

    async def ensure_primary_autoscaler(self, canary: Canary, target: Target, *, update: bool) -> None:
        if canary.spec.autoscaler_ref is None:
            return
        if "podinfo-primary" not in self.world.autoscaler:
            self.world.autoscaler["podinfo-primary"] = 1
            self.world.actions.append("create-hpa")
        if update:
            self.world.actions.append("update-hpa")

    async def promote(self, canary: Canary, target: Target) -> None:
        self.world.primary_image = self.world.image
        self.world.primary_configs = dict(self.world.configs)
        self.world.actions.append("promote")

    async def scale_to_zero(self, canary: Canary) -> None:
        self.world.target_replicas = 0
        self.world.actions.append("scale-to-zero")
        if self.world.apex_selects == Role.CANARY:
            self.world.actions.append("OUTAGE: apex selects scaled-down canary pods")

    async def scale_from_zero(self, canary: Canary) -> None:
        self.world.target_replicas = self.world.full_replicas
        self.world.actions.append("scale-from-zero")

    async def scale_up_replicas(self, canary: Canary) -> int:
        return self.world.full_replicas

    async def scale(self, canary: Canary, replicas: int) -> None:
        self.world.target_replicas = replicas
        self.world.actions.append(f"scale-to-{replicas}")

    async def revert(self, canary: Canary) -> None:
        if self.world.revert_error:
            raise KubeError(self.world.revert_error)
        self.world.target_replicas = 1
        self.world.actions.append("revert")


class FakeRouter:
    def __init__(self, world: World) -> None:
        self.world = world

    async def initialize(self, canary: Canary, target: Target) -> None:
        self.world.services.update({f"{canary.service_name}-canary", f"{canary.service_name}-primary"})

    async def reconcile(self, canary: Canary, target: Target, *, apex_selects: Role) -> None:
        self.world.services.add(canary.service_name)
        if self.world.apex_selects != apex_selects:
            self.world.actions.append(f"apex->{apex_selects.value}")
        self.world.apex_selects = apex_selects

    async def finalize(self, canary: Canary, target: Target) -> None:
        self.world.apex_selects = None  # the target's own pods
        self.world.actions.append("apex->target")


class FakeMetrics:
    def __init__(self, world: World) -> None:
        self.world = world

    async def check_providers(self, canary: Canary) -> None:
        if self.world.provider_error:
            raise AnalysisError(self.world.provider_error)

    async def run_checks(self, canary: Canary) -> AnalysisResult:
        self.world.analysis_runs += 1
        self.world.checked_targets.append(canary.target_name)
        if self.world.results:
            return self.world.results.pop(0)
        return self.world.default_result


class FakeWebhooks:
    def __init__(self, world: World) -> None:
        self.world = world

    async def call(self, canary: Canary, webhook: Webhook, phase: Phase) -> None:
        self.world.hook_calls.append((webhook.name, phase))
        answer = self.world.hook_answers.get(webhook.name, True)
        if callable(answer):
            answer = answer(webhook, phase)
        if answer is True:
            return
        raise WebhookError(answer if isinstance(answer, str) else f"webhook {webhook.name} denied")


class FakeRecorder:
    def __init__(self, world: World) -> None:
        self.world = world

    async def event(self, canary: Canary | CanaryRef, event: Event) -> None:
        self.world.events.append((event.type.value, event.message))
        self.world.event_phases.append(event.phase)

    async def alert(self, canary: Canary, alert: AlertMessage) -> None:
        self.world.alerts.append(alert)

    def log(self, canary: Canary | CanaryRef, level: LogLevel, message: str) -> None:
        self.world.logs.append((level, message))


class FakeStatusStore:
    def __init__(self, world: World, *, fail_writes: bool = False) -> None:
        self.world = world
        self.fail_writes = fail_writes

    async def get(self, ref: CanaryRef) -> Mapping[str, Any]:
        if self.world.body.get("metadata", {}).get("name") != ref.name:
            raise NotFoundError(f"canary {ref.key} not found")
        return copy.deepcopy(self.world.body)

    async def write(self, ref: CanaryRef, status: CanaryStatus) -> None:
        if self.fail_writes:
            raise KubeError("the server is unavailable")
        self.world.body["status"] = status.to_dict()
        self.world.status_writes += 1

    async def set_finalizer(self, ref: CanaryRef, finalizer: str, *, present: bool) -> None:
        metadata = self.world.body.setdefault("metadata", {})
        finalizers = [item for item in metadata.get("finalizers") or [] if item != finalizer]
        if present:
            finalizers.append(finalizer)
        metadata["finalizers"] = finalizers
        self.world.actions.append(f"finalizer {'added' if present else 'removed'}")


class FakeTelemetry:
    def __init__(self, world: World) -> None:
        self.world = world

    def canary_status(self, canary: Canary, phase: Phase) -> None:
        self.world.status_metric.append(phase)

    def canary_weights(self, canary: Canary, *, primary: int, canary_weight: int) -> None:
        self.world.weights.append((primary, canary_weight))

    def promotion(self, canary: Canary, *, skipped: bool) -> None:
        self.world.promotions.append(skipped)

    def failure(self, canary: Canary) -> None:
        self.world.failures += 1

    def tick_duration(self, canary: Canary, seconds: float) -> None:
        return None

    def metric_value(self, canary: Canary, metric: str, value: float) -> None:
        return None


class Harness:
    """Drives ticks of one canary against a :class:`World`, advancing the fake clock between ticks."""

    def __init__(self, world: World, *, settings: RolloutSettings | None = None) -> None:
        self.world = world
        self.clock = FakeClock()
        self.memory = TickMemory()
        self.settings = settings or RolloutSettings()
        self.status_store = FakeStatusStore(world)
        self.ports = Ports(
            workloads=FakeWorkloads(world),
            router=FakeRouter(world),
            metrics=FakeMetrics(world),
            webhooks=FakeWebhooks(world),
            recorder=FakeRecorder(world),
            status=self.status_store,
            clock=self.clock,
            telemetry=FakeTelemetry(world),
        )

    @property
    def ref(self) -> CanaryRef:
        return CanaryRef.from_body(self.world.body)

    async def tick(self, seconds: float = 30.0) -> Canary | None:
        outcome = await advance(self.ref, self.ports, self.settings, self.memory)
        self.clock.advance(seconds)
        return outcome.canary

    async def ticks(self, count: int) -> None:
        for _ in range(count):
            await self.tick()

    async def bootstrap(self) -> None:
        """Run the first tick (Initialized) and forget its events."""
        await self.tick()
        assert self.world.phase == Phase.INITIALIZED, self.world.messages()
        self.world.take_messages()
        self.world.actions.clear()
