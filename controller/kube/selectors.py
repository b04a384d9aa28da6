"""Selector label discovery (spec 1.1): which label of the target drives every selector Flagger writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.errors import TargetError

DEFAULT_SELECTOR_LABELS: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")


@dataclass(frozen=True)
class SelectorLabel:
    """The `(label, value)` pair found on the target; primary objects use `value-primary`."""

    key: str
    value: str

    @property
    def primary_value(self) -> str:
        return f"{self.value}-primary"


class SelectorLabelNotFound(TargetError):
    """The target's selector has none of the configured selector labels (Flagger's message)."""


def parse_selector_labels(flag_value: str | Sequence[str]) -> tuple[str, ...]:
    items = flag_value.split(",") if isinstance(flag_value, str) else flag_value
    labels = tuple(item.strip() for item in items if item.strip())
    return labels or DEFAULT_SELECTOR_LABELS


def find_selector_label(
    target: Mapping[str, Any],
    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS,
    kind: str = "deployment",
) -> SelectorLabel:
    """The first of `selector_labels` present in `spec.selector.matchLabels`; other keys are ignored."""
    match_labels = ((target.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for key in selector_labels:
        if key in match_labels:
            return SelectorLabel(key=key, value=str(match_labels[key]))
    meta = target.get("metadata") or {}
    raise SelectorLabelNotFound(
        f"getSelectorLabel failed: {kind} {meta.get('name', '')}.{meta.get('namespace', '')} "
        f"spec.selector.matchLabels must contain one of [{' '.join(selector_labels)}]"
    )
