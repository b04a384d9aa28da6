"""Flagman's Blue/Green cut-over options: the selector switch at promotion and the warm previous version.

Annotations on the Canary, like :mod:`controller.api.options`: a Flagger CRD keeps them (annotations are
never pruned), Flagger ignores them, absent means Flagger's behaviour. A bad value raises
:class:`~controller.api.options.OptionError`, whose text says which annotation and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.api.options import OptionError

SELECTOR_SWITCH_ANNOTATION = "flagman.app/selector-switch"
"""``"true"``: at promotion the apex Service selects the verified canary pods in one step, the primary is
updated while they serve, and the apex returns to the primary once it is ready (no mixed versions)."""

SCALE_DOWN_DELAY_ANNOTATION = "flagman.app/scale-down-delay-seconds"
"""Argo Rollouts' ``scaleDownDelaySeconds``: keep the previous version's pods running this long after a
promotion, so ``kubectl flagman undo`` (or an automatic rollback) moves the traffic back in one step."""

MAX_SCALE_DOWN_DELAY_SECONDS = 7 * 24 * 3600

ROLLBACK_CONDITION = "InstantRollback"
"""Status condition of an instant rollback (``undo``): reason ``Restoring`` while the apex serves the
previous version's pods and the primary is being restored, ``Restored`` once the primary serves it again."""

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _annotation(metadata: Mapping[str, Any], key: str) -> str | None:
    annotations = metadata.get("annotations")
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    return None if value is None else str(value).strip()


def selector_switch(metadata: Mapping[str, Any]) -> bool:
    """Whether the selector switch at promotion is on (OptionError for anything but a boolean)."""
    value = _annotation(metadata, SELECTOR_SWITCH_ANNOTATION)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise OptionError(f"{SELECTOR_SWITCH_ANNOTATION}: {value!r} must be true or false")


def scale_down_delay_seconds(metadata: Mapping[str, Any]) -> int | None:
    """Seconds to keep the previous version after a promotion; None when the option is off."""
    value = _annotation(metadata, SCALE_DOWN_DELAY_ANNOTATION)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_SCALE_DOWN_DELAY_SECONDS:
        raise OptionError(
            f"{SCALE_DOWN_DELAY_ANNOTATION}: {value!r} must be a whole number of seconds"
            f" from 1 to {MAX_SCALE_DOWN_DELAY_SECONDS}"
        )
    return int(value)
