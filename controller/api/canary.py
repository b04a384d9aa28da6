"""The ``Canary`` custom resource (``flagger.app/v1beta1``) as typed, immutable models.

Every field of Flagger's CRD is read. Fields only meaningful to service meshes or ingress
controllers (Istio matches, retries, CORS, gateway refs ...) are kept as plain JSON so they survive a
round trip; the Blue/Green controller for the kubernetes provider does not interpret them.

Optional fields keep ``None`` when absent so ``to_dict`` writes back what the user wrote; the
``effective_*`` properties apply Flagger's defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.api.durations import parse_duration
from controller.api.fields import FieldReader, prune
from controller.api.status import CanaryStatus
from controller.errors import CanaryValidationError, DurationError

API_GROUP = "flagger.app"
API_VERSION = "flagger.app/v1beta1"
CANARY_PLURAL = "canaries"

DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_ANALYSIS_INTERVAL_SECONDS = 60.0
DEFAULT_MIN_ANALYSIS_INTERVAL_SECONDS = 10.0
DEFAULT_WEBHOOK_TIMEOUT = "10s"


def analysis_interval_seconds(interval: Any, minimum: float = DEFAULT_MIN_ANALYSIS_INTERVAL_SECONDS) -> float:
    """The tick period for an ``analysis.interval`` value: empty or unparsable means 60 s, anything
    shorter than ``minimum`` is raised to it. Also used for a Canary too invalid to parse as a whole."""
    try:
        seconds = parse_duration(str(interval)) if interval else DEFAULT_ANALYSIS_INTERVAL_SECONDS
    except (DurationError, ValueError):
        seconds = DEFAULT_ANALYSIS_INTERVAL_SECONDS
    return max(seconds, minimum)


WEBHOOK_TYPES = frozenset(
    {
        "",
        "confirm-rollout",
        "pre-rollout",
        "rollout",
        "confirm-promotion",
        "post-rollout",
        "event",
        "rollback",
        "confirm-traffic-increase",
    }
)
ALERT_SEVERITIES = frozenset({"", "info", "warn", "error"})
PROVIDERS = frozenset(  # Flagger's provider names (informational: only kubernetes is implemented)
    {
        "",
        "kubernetes",
        "istio",
        "linkerd",
        "appmesh",
        "appmesh:v1beta2",
        "contour",
        "nginx",
        "kuma",
        "gloo",
        "supergloo",
        "traefik",
        "osm",
        "skipper",
        "smi:v1alpha1",
        "smi:v1alpha2",
        "smi:v1alpha3",
        "gatewayapi",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "apisix",
        "keda",
        "knative",
    }
)
TARGET_KINDS = frozenset({"Deployment", "DaemonSet", "Service"})
SUPPORTED_TARGET_KINDS = frozenset({"Deployment", "DaemonSet"})


@dataclass(frozen=True)
class CanaryRef:
    """Identity of a Canary: enough to record an event on it even when its spec is unusable."""

    name: str
    namespace: str
    uid: str = ""
    resource_version: str = ""

    @property
    def key(self) -> str:
        """``{name}.{namespace}``, Flagger's way of naming a canary in messages and logs."""
        return f"{self.name}.{self.namespace}"

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CanaryRef:
        metadata = body.get("metadata") if isinstance(body, Mapping) else None
        metadata = metadata if isinstance(metadata, Mapping) else {}
        return cls(
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or "default"),
            uid=str(metadata.get("uid") or ""),
            resource_version=str(metadata.get("resourceVersion") or ""),
        )


@dataclass(frozen=True)
class ObjectReference:
    """``targetRef``, ``autoscalerRef``, ``ingressRef``, ``routeRef``, ``upstreamRef``."""

    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    primary_scaler_queries: Mapping[str, str] = field(default_factory=dict)
    primary_scaler_replicas: ScalerReplicas | None = None

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ObjectReference:
        replicas = (
            ScalerReplicas.from_reader(reader.child("primaryScalerReplicas"))
            if reader.has("primaryScalerReplicas")
            else None
        )
        return cls(
            api_version=reader.string("apiVersion"),
            kind=reader.string("kind"),
            name=reader.string("name"),
            namespace=reader.string("namespace"),
            primary_scaler_queries=reader.str_map("primaryScalerQueries"),
            primary_scaler_replicas=replicas,
        )

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "apiVersion": self.api_version or None,
                "kind": self.kind or None,
                "name": self.name or None,
                "namespace": self.namespace or None,
                "primaryScalerQueries": dict(self.primary_scaler_queries),
                "primaryScalerReplicas": (
                    self.primary_scaler_replicas.to_dict() if self.primary_scaler_replicas else None
                ),
            }
        )


@dataclass(frozen=True)
class ScalerReplicas:
    """``autoscalerRef.primaryScalerReplicas``: overrides for the primary HPA."""

    min_replicas: int | None = None
    max_replicas: int | None = None

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ScalerReplicas:
        result = cls(min_replicas=reader.integer("minReplicas"), max_replicas=reader.integer("maxReplicas"))
        for key, value in (("minReplicas", result.min_replicas), ("maxReplicas", result.max_replicas)):
            if value is not None and value < 1:
                reader.problem(key, f"must be at least 1, got {value}")
        return result

    def to_dict(self) -> dict[str, Any]:
        return prune({"minReplicas": self.min_replicas, "maxReplicas": self.max_replicas})


@dataclass(frozen=True)
class ServiceMetadata:
    """``service.apex|primary|canary``: extra labels and annotations for the generated Service."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ServiceMetadata:
        return cls(labels=reader.str_map("labels"), annotations=reader.str_map("annotations"))

    def to_dict(self) -> dict[str, Any]:
        return prune({"labels": dict(self.labels), "annotations": dict(self.annotations)})


@dataclass(frozen=True)
class UnmanagedMetadata:
    """``service.unmanagedMetadata``: label/annotation keys whose live values are preserved."""

    labels: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()

    @classmethod
    def from_reader(cls, reader: FieldReader) -> UnmanagedMetadata:
        return cls(labels=tuple(reader.str_list("labels")), annotations=tuple(reader.str_list("annotations")))

    def to_dict(self) -> dict[str, Any]:
        return prune({"labels": list(self.labels), "annotations": list(self.annotations)})


_SERVICE_TYPED = frozenset(
    {
        "name",
        "port",
        "portName",
        "appProtocol",
        "trafficDistribution",
        "targetPort",
        "portDiscovery",
        "headless",
        "apex",
        "primary",
        "canary",
        "unmanagedMetadata",
    }
)


@dataclass(frozen=True)
class ServiceSpec:
    """``spec.service``. Mesh-only fields (match, retries, gateways ...) stay in ``mesh``."""

    port: int = 0
    name: str = ""
    port_name: str = ""
    app_protocol: str = ""
    traffic_distribution: str = ""
    target_port: int | str | None = None
    port_discovery: bool = False
    headless: bool = False
    apex: ServiceMetadata | None = None
    primary: ServiceMetadata | None = None
    canary: ServiceMetadata | None = None
    unmanaged_metadata: UnmanagedMetadata | None = None
    mesh: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ServiceSpec:
        port = reader.integer("port")
        if port is None:
            reader.problem("port", "is required")
            port = 0
        elif not 1 <= port <= 65535:
            reader.problem("port", f"must be between 1 and 65535, got {port}")
        target_port = reader.int_or_str("targetPort")
        if isinstance(target_port, int) and not 1 <= target_port <= 65535:
            reader.problem("targetPort", f"must be between 1 and 65535, got {target_port}")
        distribution = reader.string("trafficDistribution")
        if distribution and distribution not in {"PreferClose", "PreferSameZone", "PreferSameNode"}:
            reader.problem(
                "trafficDistribution",
                f"must be one of PreferClose, PreferSameZone, PreferSameNode, got {distribution!r}",
            )

        def metadata(key: str) -> ServiceMetadata | None:
            return ServiceMetadata.from_reader(reader.child(key)) if reader.has(key) else None

        return cls(
            port=port,
            name=reader.string("name"),
            port_name=reader.string("portName"),
            app_protocol=reader.string("appProtocol"),
            traffic_distribution=distribution,
            target_port=target_port,
            port_discovery=reader.boolean("portDiscovery"),
            headless=reader.boolean("headless"),
            apex=metadata("apex"),
            primary=metadata("primary"),
            canary=metadata("canary"),
            unmanaged_metadata=(
                UnmanagedMetadata.from_reader(reader.child("unmanagedMetadata"))
                if reader.has("unmanagedMetadata")
                else None
            ),
            mesh={key: value for key, value in reader.data.items() if key not in _SERVICE_TYPED},
        )

    def to_dict(self) -> dict[str, Any]:
        result = dict(self.mesh)
        result.update(
            prune(
                {
                    "name": self.name or None,
                    "port": self.port,
                    "portName": self.port_name or None,
                    "appProtocol": self.app_protocol or None,
                    "trafficDistribution": self.traffic_distribution or None,
                    "targetPort": self.target_port,
                    "portDiscovery": self.port_discovery or None,
                    "headless": self.headless or None,
                    "apex": self.apex.to_dict() if self.apex else None,
                    "primary": self.primary.to_dict() if self.primary else None,
                    "canary": self.canary.to_dict() if self.canary else None,
                    "unmanagedMetadata": self.unmanaged_metadata.to_dict()
                    if self.unmanaged_metadata
                    else None,
                }
            )
        )
        return result


@dataclass(frozen=True)
class ThresholdRange:
    """``metrics[].thresholdRange``: fail when the value is below ``min`` or above ``max``."""

    min: float | None = None
    max: float | None = None

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ThresholdRange:
        return cls(min=reader.number("min"), max=reader.number("max"))

    def to_dict(self) -> dict[str, Any]:
        return prune({"min": self.min, "max": self.max})


@dataclass(frozen=True)
class TemplateRef:
    """``metrics[].templateRef``; an empty namespace means the canary's namespace."""

    name: str
    namespace: str = ""

    def to_dict(self) -> dict[str, Any]:
        return prune({"name": self.name, "namespace": self.namespace or None})


@dataclass(frozen=True)
class Metric:
    """One entry of ``analysis.metrics``."""

    name: str
    interval: str = ""
    threshold: float | None = None
    threshold_range: ThresholdRange | None = None
    query: str = ""
    template_ref: TemplateRef | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def interval_seconds(self) -> float | None:
        """The metric's own interval, or None when it has none (callers pick the default)."""
        return parse_duration(self.interval) if self.interval else None

    @classmethod
    def from_reader(cls, reader: FieldReader) -> Metric:
        name = reader.string("name")
        if not name:
            reader.problem("name", "is required")
        interval = reader.string("interval")
        _check_duration(reader, "interval", interval)
        template_ref = None
        if reader.has("templateRef"):
            ref = reader.child("templateRef")
            template_ref = TemplateRef(name=ref.string("name"), namespace=ref.string("namespace"))
            if not template_ref.name:
                ref.problem("name", "is required")
        threshold_range = (
            ThresholdRange.from_reader(reader.child("thresholdRange"))
            if reader.has("thresholdRange")
            else None
        )
        if (
            threshold_range
            and threshold_range.min is not None
            and threshold_range.max is not None
            and threshold_range.min > threshold_range.max
        ):
            reader.problem(
                "thresholdRange", f"min {threshold_range.min:g} is above max {threshold_range.max:g}"
            )
        return cls(
            name=name,
            interval=interval,
            threshold=reader.number("threshold"),
            threshold_range=threshold_range,
            query=reader.string("query"),
            template_ref=template_ref,
            template_variables=reader.str_map("templateVariables"),
        )

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "name": self.name,
                "interval": self.interval or None,
                "threshold": self.threshold,
                "thresholdRange": self.threshold_range.to_dict() if self.threshold_range else None,
                "query": self.query or None,
                "templateRef": self.template_ref.to_dict() if self.template_ref else None,
                "templateVariables": dict(self.template_variables),
            }
        )


@dataclass(frozen=True)
class Alert:
    """One entry of ``analysis.alerts`` (routing of chat notifications; sent by the alerts issue)."""

    name: str
    provider_name: str
    provider_namespace: str = ""
    severity: str = ""

    @classmethod
    def from_reader(cls, reader: FieldReader) -> Alert:
        name = reader.string("name")
        if not name:
            reader.problem("name", "is required")
        provider = reader.child("providerRef")
        provider_name = provider.string("name")
        if not provider_name:
            provider.problem("name", "is required")
        severity = reader.string("severity")
        if severity not in ALERT_SEVERITIES:
            reader.problem("severity", f"must be one of info, warn, error, got {severity!r}")
        return cls(
            name=name,
            provider_name=provider_name,
            provider_namespace=provider.string("namespace"),
            severity=severity,
        )

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "name": self.name,
                "severity": self.severity or None,
                "providerRef": prune(
                    {"name": self.provider_name, "namespace": self.provider_namespace or None}
                ),
            }
        )


@dataclass(frozen=True)
class Webhook:
    """One entry of ``analysis.webhooks``. An empty ``type`` means ``rollout``."""

    name: str
    url: str
    type: str = ""
    mute_alert: bool = False
    timeout: str = ""
    retries: int = 0
    disable_tls: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_type(self) -> str:
        return self.type or "rollout"

    @property
    def timeout_seconds(self) -> float:
        """Per-attempt timeout; Flagger replaces values shorter than two characters with 10s."""
        text = self.timeout if len(self.timeout) >= 2 else DEFAULT_WEBHOOK_TIMEOUT
        return parse_duration(text)

    @classmethod
    def from_reader(cls, reader: FieldReader) -> Webhook:
        name = reader.string("name")
        if not name:
            reader.problem("name", "is required")
        url = reader.string("url")
        if not url:
            reader.problem("url", "is required")
        hook_type = reader.string("type")
        if hook_type not in WEBHOOK_TYPES:
            allowed = ", ".join(sorted(item for item in WEBHOOK_TYPES if item))
            reader.problem("type", f"must be one of {allowed}, got {hook_type!r}")
        timeout = reader.string("timeout")
        if len(timeout) >= 2:
            _check_duration(reader, "timeout", timeout)
        retries = reader.integer("retries", 0) or 0
        if retries < 0:
            reader.problem("retries", f"must not be negative, got {retries}")
            retries = 0
        return cls(
            name=name,
            url=url,
            type=hook_type,
            mute_alert=reader.boolean("muteAlert"),
            timeout=timeout,
            retries=retries,
            disable_tls=reader.boolean("disableTLS"),
            metadata=reader.str_map("metadata"),
        )

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "name": self.name,
                "type": self.type or None,
                "url": self.url,
                "muteAlert": self.mute_alert or None,
                "timeout": self.timeout or None,
                "retries": self.retries or None,
                "disableTLS": self.disable_tls or None,
                "metadata": dict(self.metadata),
            }
        )


_ANALYSIS_TYPED = frozenset(
    {
        "interval",
        "iterations",
        "threshold",
        "maxWeight",
        "stepWeight",
        "stepWeights",
        "stepWeightPromotion",
        "mirror",
        "mirrorWeight",
        "primaryReadyThreshold",
        "canaryReadyThreshold",
        "match",
        "metrics",
        "alerts",
        "webhooks",
        "sessionAffinity",
    }
)


@dataclass(frozen=True)
class Analysis:
    """``spec.analysis``."""

    interval: str = ""
    iterations: int = 0
    threshold: int = 0
    max_weight: int | None = None
    step_weight: int | None = None
    step_weights: tuple[int, ...] = ()
    step_weight_promotion: int | None = None
    mirror: bool = False
    mirror_weight: int | None = None
    primary_ready_threshold: int | None = None
    canary_ready_threshold: int | None = None
    match: tuple[Mapping[str, Any], ...] = ()
    metrics: tuple[Metric, ...] = ()
    alerts: tuple[Alert, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    session_affinity: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_threshold(self) -> int:
        """Failed checks before rollback; Flagger uses 1 when unset or zero."""
        return self.threshold if self.threshold > 0 else 1

    @property
    def effective_primary_ready_threshold(self) -> int:
        return self.primary_ready_threshold if self.primary_ready_threshold else 100

    @property
    def effective_canary_ready_threshold(self) -> int:
        return self.canary_ready_threshold if self.canary_ready_threshold else 100

    def interval_seconds(self, minimum: float = DEFAULT_MIN_ANALYSIS_INTERVAL_SECONDS) -> float:
        """Tick period: empty or unparsable means 60 s, anything shorter than ``minimum`` is raised to it."""
        return analysis_interval_seconds(self.interval, minimum)

    def hooks(self, hook_type: str) -> tuple[Webhook, ...]:
        """Webhooks of one type in spec order (``rollout`` includes untyped hooks)."""
        return tuple(hook for hook in self.webhooks if hook.effective_type == hook_type)

    @classmethod
    def from_reader(cls, reader: FieldReader) -> Analysis:
        interval = reader.string("interval")
        _check_duration(reader, "interval", interval)
        iterations = reader.integer("iterations", 0) or 0
        threshold = reader.integer("threshold", 0) or 0
        for key, value in (("iterations", iterations), ("threshold", threshold)):
            if value < 0:
                reader.problem(key, f"must not be negative, got {value}")
        ready: dict[str, int | None] = {}
        for key in ("primaryReadyThreshold", "canaryReadyThreshold"):
            percent = reader.integer(key)
            ready[key] = percent
            if percent is not None and not 0 <= percent <= 100:
                reader.problem(key, f"must be a percentage between 0 and 100, got {percent}")
        step_weights: list[int] = []
        for index, item in enumerate(reader.raw_list("stepWeights")):
            if isinstance(item, bool) or not isinstance(item, int):
                reader.problem(f"stepWeights[{index}]", "must be an integer")
            else:
                step_weights.append(item)
        affinity = reader.raw_map("sessionAffinity") if reader.has("sessionAffinity") else None
        if affinity is not None and not affinity.get("cookieName"):
            reader.problem("sessionAffinity.cookieName", "is required")
        return cls(
            interval=interval,
            iterations=max(iterations, 0),
            threshold=max(threshold, 0),
            max_weight=reader.integer("maxWeight"),
            step_weight=reader.integer("stepWeight"),
            step_weights=tuple(step_weights),
            step_weight_promotion=reader.integer("stepWeightPromotion"),
            mirror=reader.boolean("mirror"),
            mirror_weight=reader.integer("mirrorWeight"),
            primary_ready_threshold=ready["primaryReadyThreshold"],
            canary_ready_threshold=ready["canaryReadyThreshold"],
            match=tuple(item for item in reader.raw_list("match") if isinstance(item, Mapping)),
            metrics=tuple(Metric.from_reader(item) for item in reader.object_list("metrics")),
            alerts=tuple(Alert.from_reader(item) for item in reader.object_list("alerts")),
            webhooks=tuple(Webhook.from_reader(item) for item in reader.object_list("webhooks")),
            session_affinity=affinity,
            extra={key: value for key, value in reader.data.items() if key not in _ANALYSIS_TYPED},
        )

    def to_dict(self) -> dict[str, Any]:
        result = dict(self.extra)
        result.update(
            prune(
                {
                    "interval": self.interval or None,
                    "iterations": self.iterations or None,
                    "threshold": self.threshold or None,
                    "maxWeight": self.max_weight,
                    "stepWeight": self.step_weight,
                    "stepWeights": list(self.step_weights),
                    "stepWeightPromotion": self.step_weight_promotion,
                    "mirror": self.mirror or None,
                    "mirrorWeight": self.mirror_weight,
                    "primaryReadyThreshold": self.primary_ready_threshold,
                    "canaryReadyThreshold": self.canary_ready_threshold,
                    "match": [dict(item) for item in self.match],
                    "metrics": [metric.to_dict() for metric in self.metrics],
                    "alerts": [alert.to_dict() for alert in self.alerts],
                    "webhooks": [hook.to_dict() for hook in self.webhooks],
                    "sessionAffinity": dict(self.session_affinity) if self.session_affinity else None,
                }
            )
        )
        return result


_SPEC_TYPED = frozenset(
    {
        "provider",
        "metricsServer",
        "progressDeadlineSeconds",
        "targetRef",
        "autoscalerRef",
        "ingressRef",
        "routeRef",
        "upstreamRef",
        "service",
        "skipAnalysis",
        "revertOnDeletion",
        "suspend",
        "analysis",
    }
)


@dataclass(frozen=True)
class CanarySpec:
    """``spec`` of a Canary."""

    target_ref: ObjectReference
    service: ServiceSpec
    analysis: Analysis | None
    provider: str = ""
    metrics_server: str = ""
    progress_deadline_seconds: int | None = None
    autoscaler_ref: ObjectReference | None = None
    ingress_ref: ObjectReference | None = None
    route_ref: ObjectReference | None = None
    upstream_ref: ObjectReference | None = None
    skip_analysis: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_progress_deadline_seconds(self) -> int:
        value = self.progress_deadline_seconds
        return value if value is not None and value > 0 else DEFAULT_PROGRESS_DEADLINE_SECONDS

    @classmethod
    def from_reader(cls, reader: FieldReader) -> CanarySpec:
        target = reader.child("targetRef")
        target_ref = ObjectReference.from_reader(target)
        if not reader.has("targetRef"):
            reader.problem("targetRef", "is required")
        elif not target_ref.name:
            target.problem("name", "is required")
        if target_ref.kind in TARGET_KINDS and target_ref.kind not in SUPPORTED_TARGET_KINDS:
            target.problem(
                "kind", f"{target_ref.kind} targets are not supported, only Deployment and DaemonSet"
            )
        if not reader.has("service"):
            reader.problem("service", "is required")
        service = ServiceSpec.from_reader(reader.child("service"))
        analysis = Analysis.from_reader(reader.child("analysis")) if reader.has("analysis") else None
        provider = reader.string("provider")
        deadline = reader.integer("progressDeadlineSeconds")
        if deadline is not None and deadline < 0:
            reader.problem("progressDeadlineSeconds", f"must not be negative, got {deadline}")

        def reference(key: str) -> ObjectReference | None:
            return ObjectReference.from_reader(reader.child(key)) if reader.has(key) else None

        autoscaler = reference("autoscalerRef")
        if autoscaler is not None and not autoscaler.name:
            reader.problem("autoscalerRef.name", "is required")
        if autoscaler is not None and autoscaler.kind not in {"", "HorizontalPodAutoscaler", "ScaledObject"}:
            reader.problem(
                "autoscalerRef.kind",
                f"must be HorizontalPodAutoscaler or ScaledObject, got {autoscaler.kind!r}",
            )
        return cls(
            target_ref=target_ref,
            service=service,
            analysis=analysis,
            provider=provider,
            metrics_server=reader.string("metricsServer"),
            progress_deadline_seconds=deadline,
            autoscaler_ref=autoscaler,
            ingress_ref=reference("ingressRef"),
            route_ref=reference("routeRef"),
            upstream_ref=reference("upstreamRef"),
            skip_analysis=reader.boolean("skipAnalysis"),
            revert_on_deletion=reader.boolean("revertOnDeletion"),
            suspend=reader.boolean("suspend"),
            extra={key: value for key, value in reader.data.items() if key not in _SPEC_TYPED},
        )

    def to_dict(self) -> dict[str, Any]:
        result = dict(self.extra)
        result.update(
            prune(
                {
                    "provider": self.provider or None,
                    "metricsServer": self.metrics_server or None,
                    "progressDeadlineSeconds": self.progress_deadline_seconds,
                    "targetRef": self.target_ref.to_dict(),
                    "autoscalerRef": self.autoscaler_ref.to_dict() if self.autoscaler_ref else None,
                    "ingressRef": self.ingress_ref.to_dict() if self.ingress_ref else None,
                    "routeRef": self.route_ref.to_dict() if self.route_ref else None,
                    "upstreamRef": self.upstream_ref.to_dict() if self.upstream_ref else None,
                    "service": self.service.to_dict(),
                    "skipAnalysis": self.skip_analysis or None,
                    "revertOnDeletion": self.revert_on_deletion or None,
                    "suspend": self.suspend or None,
                    "analysis": self.analysis.to_dict() if self.analysis else None,
                }
            )
        )
        return result


@dataclass(frozen=True)
class ParsedSpec:
    """A valid spec with the raw JSON it was parsed from (a private deep copy, compared with `==`)."""

    raw: Any
    spec: CanarySpec

    @classmethod
    def of(cls, body: Mapping[str, Any], canary: Canary) -> ParsedSpec:
        return cls(copy.deepcopy(body.get("spec")), canary.spec)


@dataclass(frozen=True)
class Canary:
    """A parsed, validated Canary. Build it with :meth:`from_dict`."""

    ref: CanaryRef
    spec: CanarySpec
    status: CanaryStatus = field(default_factory=CanaryStatus)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def key(self) -> str:
        """``{name}.{namespace}``."""
        return self.ref.key

    @property
    def target_name(self) -> str:
        return self.spec.target_ref.name

    @property
    def target_key(self) -> str:
        """``{target}.{namespace}``."""
        return f"{self.spec.target_ref.name}.{self.namespace}"

    @property
    def target_kind(self) -> str:
        return self.spec.target_ref.kind or "Deployment"

    @property
    def service_name(self) -> str:
        """``service.name`` or the target name: the apex Service name."""
        return self.spec.service.name or self.spec.target_ref.name

    @property
    def analysis(self) -> Analysis:
        return self.spec.analysis or Analysis()

    @property
    def skip_analysis(self) -> bool:
        """Flagger's ``SkipAnalysis()``: explicit ``skipAnalysis`` or no analysis block at all."""
        return self.spec.skip_analysis or self.spec.analysis is None

    def with_status(self, status: CanaryStatus) -> Canary:
        return Canary(ref=self.ref, spec=self.spec, status=status, metadata=self.metadata)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any], known: ParsedSpec | None = None) -> Canary:
        """Parse and validate a Canary; raise :class:`CanaryValidationError` listing every problem.

        ``known``: a spec parsed before; when the body's spec is equal to it, it is reused (every status
        write brings a new body, and parsing the spec again is most of a Canary's parsing time).
        """
        problems: list[str] = []
        if not isinstance(body, Mapping):
            raise CanaryValidationError(["canary: must be an object"])
        ref = CanaryRef.from_body(body)
        if not ref.name:
            problems.append("metadata.name: is required")
        raw_spec = body.get("spec")
        if known is not None and known.raw == raw_spec:
            spec = known.spec
        else:
            spec = CanarySpec.from_reader(FieldReader(raw_spec, "spec", problems))
        status = CanaryStatus.from_dict(body.get("status"), problems)
        if problems:
            raise CanaryValidationError(problems)
        metadata = body.get("metadata")
        return cls(
            ref=ref,
            spec=spec,
            status=status,
            metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        )

    def to_dict(self) -> dict[str, Any]:
        metadata = dict(self.metadata) or prune({"name": self.name, "namespace": self.namespace})
        return {
            "apiVersion": API_VERSION,
            "kind": "Canary",
            "metadata": metadata,
            "spec": self.spec.to_dict(),
            "status": self.status.to_dict(),
        }


def _check_duration(reader: FieldReader, key: str, text: str) -> None:
    if not text:
        return
    try:
        parse_duration(text)
    except DurationError as error:
        reader.problem(key, str(error))
