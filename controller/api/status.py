"""Canary status: phases, the Promoted condition and ``CanaryStatus`` (Flagger's ``CanaryStatus``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.api.fields import FieldReader, prune


class Phase(StrEnum):
    """``status.phase`` values, spelled exactly as Flagger writes them."""

    NONE = ""
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


PROMOTED_CONDITION = "Promoted"
"""The single condition type Flagger maintains; ``reason`` is the phase name."""

VALID_CONDITION = "Valid"
"""Flagman's extra condition: False with reason ``InvalidSpec`` while the Canary cannot be used."""


@dataclass(frozen=True)
class Condition:
    """One entry of ``status.conditions``."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_update_time: str = ""
    last_transition_time: str = ""

    @classmethod
    def from_reader(cls, reader: FieldReader) -> Condition:
        return cls(
            type=reader.string("type"),
            status=reader.string("status"),
            reason=reader.string("reason"),
            message=reader.string("message"),
            last_update_time=reader.string("lastUpdateTime"),
            last_transition_time=reader.string("lastTransitionTime"),
        )

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "type": self.type,
                "status": self.status,
                "reason": self.reason,
                "message": self.message or None,
                "lastUpdateTime": self.last_update_time or None,
                "lastTransitionTime": self.last_transition_time or None,
            }
        )


@dataclass(frozen=True)
class CanaryStatus:
    """``status`` of a Canary.

    ``tracked_configs`` is ``None`` when the field is absent: Flagger distinguishes "never tracked"
    (nil) from "tracked, nothing found" (empty map) when deciding whether configs changed.
    Unknown keys (e.g. the session-affinity cookie fields) are kept in ``extra`` and written back.
    """

    phase: Phase = Phase.NONE
    failed_checks: int = 0
    canary_weight: int = 0
    iterations: int = 0
    tracked_configs: Mapping[str, str] | None = None
    last_applied_spec: str = ""
    last_promoted_spec: str = ""
    last_transition_time: str = ""
    conditions: tuple[Condition, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset(
        {
            "phase",
            "failedChecks",
            "canaryWeight",
            "iterations",
            "trackedConfigs",
            "lastAppliedSpec",
            "lastPromotedSpec",
            "lastTransitionTime",
            "conditions",
        }
    )

    @classmethod
    def from_dict(cls, data: Any, problems: list[str] | None = None) -> CanaryStatus:
        reader = FieldReader(data, "status", problems if problems is not None else [])
        phase_text = reader.string("phase")
        try:
            phase = Phase(phase_text)
        except ValueError:
            reader.problem("phase", f"unknown phase {phase_text!r}")
            phase = Phase.NONE
        tracked = reader.str_map("trackedConfigs") if "trackedConfigs" in reader.data else None
        if reader.data.get("trackedConfigs") is None:
            tracked = None
        return cls(
            phase=phase,
            failed_checks=reader.integer("failedChecks", 0) or 0,
            canary_weight=reader.integer("canaryWeight", 0) or 0,
            iterations=reader.integer("iterations", 0) or 0,
            tracked_configs=tracked,
            last_applied_spec=reader.string("lastAppliedSpec"),
            last_promoted_spec=reader.string("lastPromotedSpec"),
            last_transition_time=reader.string("lastTransitionTime"),
            conditions=tuple(Condition.from_reader(item) for item in reader.object_list("conditions")),
            extra={key: value for key, value in reader.data.items() if key not in cls._KNOWN},
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON written to the status subresource, as Flagger's CanaryStatus marshals it."""
        result: dict[str, Any] = dict(self.extra)
        result.update(
            {
                "phase": self.phase.value,
                "failedChecks": self.failed_checks,
                "canaryWeight": self.canary_weight,
                "iterations": self.iterations,
                "lastTransitionTime": self.last_transition_time,
                "conditions": [condition.to_dict() for condition in self.conditions],
            }
        )
        # Go's `omitempty` on Flagger's CanaryStatus: an unset revision is absent, not "".
        if self.last_applied_spec:
            result["lastAppliedSpec"] = self.last_applied_spec
        if self.last_promoted_spec:
            result["lastPromotedSpec"] = self.last_promoted_spec
        if self.tracked_configs is not None:
            result["trackedConfigs"] = dict(self.tracked_configs)
        return result

    def condition(self, condition_type: str) -> Condition | None:
        return next((item for item in self.conditions if item.type == condition_type), None)

    def replace(self, **changes: Any) -> CanaryStatus:
        return dataclasses.replace(self, **changes)
