"""Label and field selectors, parsed once per request and matched against stored objects.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``,
comma-AND (commas inside parentheses do not split). Field selectors: ``=``, ``==``, ``!=`` over a
per-kind list of fields; anything else is a 400 like kube-apiserver's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .meta import dotted_get

_LABEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_EXPR = re.compile(rf"^\s*({_LABEL_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_EXPR = re.compile(rf"^\s*({_LABEL_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$")
_EXISTS_EXPR = re.compile(rf"^\s*(!?)\s*({_LABEL_KEY})\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text:
            return cls()
        requirements = []
        for part in _split_top_level(text):
            if m := _SET_EXPR.match(part):
                values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
                requirements.append(Requirement(m.group(1), m.group(2), values))
            elif m := _EQ_EXPR.match(part):
                operator = "!=" if m.group(2) == "!=" else "="
                requirements.append(Requirement(m.group(1), operator, (m.group(3),)))
            elif m := _EXISTS_EXPR.match(part):
                requirements.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
            else:
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        return cls(tuple(requirements))

    def matches(self, obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)


_COMMON = ("metadata.name", "metadata.namespace")
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        # events.k8s.io/v1 names of the same fields
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reportingController",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
}

_EVENT_ALIASES = {
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "reportingController": "reportingComponent",
}


def _field_value(obj: dict[str, Any], field: str) -> str:
    if field == "source":
        value: Any = dotted_get(obj, "source.component") or obj.get("reportingComponent")
    else:
        value = dotted_get(obj, _EVENT_ALIASES.get(field, field))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (field, equal?, value)

    @classmethod
    def parse(cls, text: str | None, kind: str, extra_fields: tuple[str, ...] = ()) -> FieldSelector:
        if not text:
            return cls()
        allowed = set(_COMMON) | set(FIELDS_BY_KIND.get(kind, ())) | set(extra_fields)
        terms = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "!=" in part:
                field, value = part.split("!=", 1)
                equal = False
            elif "==" in part:
                field, value = part.split("==", 1)
                equal = True
            elif "=" in part:
                field, value = part.split("=", 1)
                equal = True
            else:
                raise ApiError(400, "BadRequest", f"invalid selector: '{text}'; can't understand '{part}'")
            field = field.strip()
            if field not in allowed:
                raise ApiError(
                    400, "BadRequest", f'unable to parse requirement: field label not supported: "{field}"'
                )
            terms.append((field, equal, value.strip()))
        return cls(tuple(terms))

    def matches(self, obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, field) == value) == equal for field, equal, value in self.terms)


@dataclass(frozen=True)
class Selection:
    """Everything a list or watch filters by: namespace (None = all), labels, fields."""

    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector

    def matches(self, obj: dict[str, Any]) -> bool:
        metadata = obj.get("metadata", {})
        if self.namespace is not None and metadata.get("namespace", "") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)
