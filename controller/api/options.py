"""Flagman-only Blue/Green options, written as Canary annotations so that a Flagger CRD (which prunes
unknown spec fields) keeps them and Flagger ignores them. Each is opt-in; absent means Flagger's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTO_PROMOTION_ANNOTATION = "flagman.app/auto-promotion-seconds"
"""Argo Rollouts' ``autoPromotionSeconds``: promote this many seconds after the canary entered
WaitingPromotion (a closed confirm-promotion gate), instead of waiting for the gate forever."""

POST_PROMOTION_ANNOTATION = "flagman.app/post-promotion-iterations"
"""Argo Rollouts' ``postPromotionAnalysis``: after the promotion, check the metrics of the promoted
version this many more analysis intervals (Finalising); a failure rolls back to the previous version."""

PREVIEW_REPLICAS_ANNOTATION = "flagman.app/preview-replica-count"
"""Argo Rollouts' ``previewReplicaCount``: the canary runs this many replicas during the analysis and is
scaled to full size before it is promoted."""

MAX_AUTO_PROMOTION_SECONDS = 7 * 24 * 3600
MAX_POST_PROMOTION_ITERATIONS = 1000
MAX_PREVIEW_REPLICAS = 10000


class OptionError(ValueError):
    """An option annotation with a value that cannot be used (its text says which and why)."""


def auto_promotion_seconds(metadata: Mapping[str, Any]) -> int | None:
    return _whole_number(metadata, AUTO_PROMOTION_ANNOTATION, MAX_AUTO_PROMOTION_SECONDS, "seconds")


def post_promotion_iterations(metadata: Mapping[str, Any]) -> int | None:
    return _whole_number(metadata, POST_PROMOTION_ANNOTATION, MAX_POST_PROMOTION_ITERATIONS, "iterations")


def preview_replica_count(metadata: Mapping[str, Any]) -> int | None:
    return _whole_number(metadata, PREVIEW_REPLICAS_ANNOTATION, MAX_PREVIEW_REPLICAS, "replicas")


def _whole_number(metadata: Mapping[str, Any], key: str, most: int, unit: str) -> int | None:
    """The annotation's value, None when absent; OptionError unless a whole number from 1 to ``most``."""
    annotations = metadata.get("annotations")
    text = annotations.get(key) if isinstance(annotations, Mapping) else None
    if text is None:
        return None
    value = str(text).strip()
    if not value.isdigit() or not 0 < int(value) <= most:
        raise OptionError(f"{key}: {value!r} must be a whole number of {unit} from 1 to {most}")
    return int(value)
