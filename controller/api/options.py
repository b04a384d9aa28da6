"""Flagman-only Blue/Green options, written as Canary annotations so that a Flagger CRD (which prunes
unknown spec fields) keeps them and Flagger ignores them. Each is opt-in; absent means Flagger's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTO_PROMOTION_ANNOTATION = "flagman.app/auto-promotion-seconds"
"""Argo Rollouts' ``autoPromotionSeconds``: promote this many seconds after the canary entered
WaitingPromotion (a closed confirm-promotion gate), instead of waiting for the gate forever."""

MAX_AUTO_PROMOTION_SECONDS = 7 * 24 * 3600


class OptionError(ValueError):
    """An option annotation with a value that cannot be used (its text says which and why)."""


def auto_promotion_seconds(metadata: Mapping[str, Any]) -> int | None:
    annotations = metadata.get("annotations")
    text = annotations.get(AUTO_PROMOTION_ANNOTATION) if isinstance(annotations, Mapping) else None
    if text is None:
        return None
    value = str(text).strip()
    if not value.isdigit() or not 0 < int(value) <= MAX_AUTO_PROMOTION_SECONDS:
        raise OptionError(
            f"{AUTO_PROMOTION_ANNOTATION}: {value!r} must be a whole number of seconds"
            f" from 1 to {MAX_AUTO_PROMOTION_SECONDS}"
        )
    return int(value)
