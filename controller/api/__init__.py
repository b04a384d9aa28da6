"""Typed views of Flagger's custom resources (``flagger.app/v1beta1``): parsing, defaults, validation.

``Canary.from_dict(body)`` returns an immutable model or raises ``CanaryValidationError`` listing every
problem; ``to_dict()`` writes it back. Go durations: :mod:`controller.api.durations`.
"""

from controller.api.canary import (
    API_GROUP,
    API_VERSION,
    CANARY_PLURAL,
    Alert,
    Analysis,
    Canary,
    CanaryRef,
    CanarySpec,
    Metric,
    ObjectReference,
    ScalerReplicas,
    ServiceMetadata,
    ServiceSpec,
    TemplateRef,
    ThresholdRange,
    UnmanagedMetadata,
    Webhook,
)
from controller.api.durations import format_duration, parse_duration
from controller.api.status import PROMOTED_CONDITION, VALID_CONDITION, CanaryStatus, Condition, Phase
from controller.api.templates import AlertProvider, MetricProvider, MetricTemplate

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "CANARY_PLURAL",
    "PROMOTED_CONDITION",
    "VALID_CONDITION",
    "Alert",
    "AlertProvider",
    "Analysis",
    "Canary",
    "CanaryRef",
    "CanarySpec",
    "CanaryStatus",
    "Condition",
    "Metric",
    "MetricProvider",
    "MetricTemplate",
    "ObjectReference",
    "Phase",
    "ScalerReplicas",
    "ServiceMetadata",
    "ServiceSpec",
    "TemplateRef",
    "ThresholdRange",
    "UnmanagedMetadata",
    "Webhook",
    "format_duration",
    "parse_duration",
]
