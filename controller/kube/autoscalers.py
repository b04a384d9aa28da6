"""The primary HorizontalPodAutoscaler (spec 1.6), always in `autoscaling/v2`.

A Canary's `autoscalerRef` may say `autoscaling/v2beta2` (the tutorial does); the object is read and
written through `autoscaling/v2`, whose schema is the same, so such Canaries work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.kube.objects import (
    PRIMARY_SUFFIX,
    CanaryOwner,
    JsonDict,
    deep_copy,
    owner_reference,
    without_flux_keys,
)

HPA_API_VERSION = "autoscaling/v2"
ACCEPTED_HPA_API_VERSIONS = frozenset({"", "autoscaling/v2", "autoscaling/v2beta2"})
COPIED_HPA_FIELDS = ("minReplicas", "maxReplicas", "metrics", "behavior")


def primary_hpa_name(source_name: str) -> str:
    return f"{source_name}{PRIMARY_SUFFIX}"


def build_primary_hpa(
    source: Mapping[str, Any],
    target_name: str,
    canary: CanaryOwner,
    primary_scaler_replicas: Mapping[str, Any] | None = None,
) -> JsonDict:
    """The `<hpa>-primary` object scaling `<target>-primary`, with `primaryScalerReplicas` overrides."""
    source_meta = source.get("metadata") or {}
    source_spec = source.get("spec") or {}
    source_target = source_spec.get("scaleTargetRef") or {}
    spec: JsonDict = {
        "scaleTargetRef": {
            "apiVersion": source_target.get("apiVersion", "apps/v1"),
            "kind": source_target.get("kind", "Deployment"),
            "name": f"{target_name}{PRIMARY_SUFFIX}",
        }
    }
    for field in COPIED_HPA_FIELDS:
        if source_spec.get(field) is not None:
            spec[field] = deep_copy(source_spec[field])
    for field in ("minReplicas", "maxReplicas"):
        override = (primary_scaler_replicas or {}).get(field)
        if override is not None:
            spec[field] = override
    return {
        "apiVersion": HPA_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": primary_hpa_name(str(source_meta.get("name", ""))),
            "namespace": source_meta.get("namespace", canary.namespace),
            "labels": without_flux_keys(source_meta.get("labels")),
            "ownerReferences": [owner_reference(canary)],
        },
        "spec": spec,
    }


def primary_hpa_update(live: Mapping[str, Any], desired: Mapping[str, Any]) -> JsonDict | None:
    """The live primary HPA with min/max/metrics/behavior set from `desired`, or None when equal.

    Unlike Flagger, which compares labels/annotations it never copies (and so "updates" every time), only
    the fields that are written are compared.
    """
    live_spec = live.get("spec") or {}
    desired_spec = desired.get("spec") or {}

    def comparable(spec: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            spec.get("minReplicas") or 1,
            spec.get("maxReplicas"),
            spec.get("metrics"),
            spec.get("behavior"),
        )

    if comparable(live_spec) == comparable(desired_spec):
        return None
    updated: JsonDict = deep_copy(dict(live))
    spec = updated.setdefault("spec", {})
    for field in COPIED_HPA_FIELDS:
        if desired_spec.get(field) is None:
            spec.pop(field, None)
        else:
            spec[field] = deep_copy(desired_spec[field])
    return updated
