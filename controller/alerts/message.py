"""What a notification says: the message, its severity and the fields shown under it (spec 6.2).

Every notifier renders the same `Notification`; only the chat-specific JSON differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.api import Canary
from controller.rollout.ports import AlertMessage, AlertSeverity


@dataclass(frozen=True)
class Field:
    """One name/value line under the message (Slack field, Teams fact, Google Chat section)."""

    name: str
    value: str


@dataclass(frozen=True)
class Notification:
    """One alert about one canary, ready to be rendered by any notifier."""

    workload: str
    """The Canary's name (Flagger's `workload`)."""
    namespace: str
    message: str
    severity: AlertSeverity
    fields: tuple[Field, ...] = ()

    @property
    def subject(self) -> str:
        """`{canary}.{namespace}`: the author/subtitle line of every chat format."""
        return f"{self.workload}.{self.namespace}"

    @property
    def is_error(self) -> bool:
        """Errors get the red colour; info and warn look alike, as in Flagger."""
        return self.severity == AlertSeverity.ERROR


def traffic_routing(canary: Canary) -> str | None:
    """The `Traffic routing` field, in Flagger's order of precedence (its `alertMetadata`)."""
    analysis = canary.analysis
    if analysis.step_weight is not None and analysis.step_weight > 0:
        return f"Weight step: {analysis.step_weight} max: {analysis.max_weight or 0}"
    if analysis.step_weights:
        steps = ",".join(str(step) for step in analysis.step_weights)
        return f"Weight steps: {steps} max: {analysis.max_weight or 0}"
    if analysis.match:
        return "A/B Testing"
    if analysis.iterations > 0:
        return "Blue/Green"
    return None


def metadata_fields(canary: Canary) -> tuple[Field, ...]:
    """Target, threshold, deadline and routing: added to the initialization and new-revision alerts."""
    fields = [
        Field("Target", f"{canary.target_kind}/{canary.target_name}.{canary.namespace}"),
        Field("Failed checks threshold", str(canary.analysis.effective_threshold)),
        Field("Progress deadline", f"{canary.spec.effective_progress_deadline_seconds}s"),
    ]
    routing = traffic_routing(canary)
    if routing is not None:
        fields.append(Field("Traffic routing", routing))
    return tuple(fields)


def notification_for(canary: Canary, alert: AlertMessage, *, cluster_name: str = "") -> Notification:
    """`Cluster` first when `-cluster-name` is set, then the metadata fields when the alert asks for them."""
    fields: list[Field] = []
    if cluster_name:
        fields.append(Field("Cluster", cluster_name))
    if alert.with_metadata:
        fields.extend(metadata_fields(canary))
    return Notification(
        workload=canary.name,
        namespace=canary.namespace,
        message=alert.message,
        severity=alert.severity,
        fields=tuple(fields),
    )
