"""KEDA ScaledObjects as `autoscalerRef` (Flagger's `scaled_object_reconciler.go`), pure functions.

The primary gets `<so>-primary`, a copy of the target's ScaledObject scaling `<target>-primary`, whose
trigger queries name the primary (`primaryScalerQueries`, or the target's name rewritten) and whose
replica bounds follow `primaryScalerReplicas`. The target's own ScaledObject is paused at zero
(`autoscaling.keda.sh/paused-replicas: "0"`) whenever the target is scaled to zero, so KEDA does not scale
it back up, and resumed when an analysis scales it up. The adapter (`workloads.py`) does the I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from controller.kube.objects import (
    CANARY_SUFFIX,
    PRIMARY_SUFFIX,
    CanaryOwner,
    JsonDict,
    deep_copy,
    owner_reference,
    without_flux_keys,
)

PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"
# Fields of `spec` copied from the target's ScaledObject (KEDA's ScaledObjectSpec).
COPIED_SO_FIELDS = (
    "pollingInterval",
    "cooldownPeriod",
    "minReplicaCount",
    "maxReplicaCount",
    "advanced",
    "triggers",
    "fallback",
    "idleReplicaCount",
)


def primary_scaled_object_name(source_name: str) -> str:
    return f"{source_name}{PRIMARY_SUFFIX}"


def primary_query(query: str, target_name: str) -> str:
    """Flagger's best effort: `<target>` and `<target>-canary` become `<target>-primary` (through a
    placeholder, so `<target>-canary` does not turn into `<target>-primary-canary`)."""
    placeholder = uuid.uuid4().hex
    replaced = query.replace(f"{target_name}{CANARY_SUFFIX}", placeholder)
    replaced = replaced.replace(target_name, f"{target_name}{PRIMARY_SUFFIX}")
    return replaced.replace(placeholder, f"{target_name}{PRIMARY_SUFFIX}")


def primary_triggers(
    triggers: list[JsonDict], target_name: str, primary_queries: Mapping[str, str]
) -> list[JsonDict]:
    """With `primaryScalerQueries`, the named triggers get those queries; otherwise every `query` is
    rewritten by :func:`primary_query`."""
    result: list[JsonDict] = deep_copy(triggers)
    for trigger in result:
        metadata = trigger.get("metadata")
        if not isinstance(metadata, dict):
            continue
        if primary_queries:
            if trigger.get("name") in primary_queries:
                metadata["query"] = primary_queries[str(trigger["name"])]
        elif isinstance(metadata.get("query"), str):
            metadata["query"] = primary_query(metadata["query"], target_name)
    return result


def primary_scaled_object_spec(
    source: Mapping[str, Any],
    target_name: str,
    primary_queries: Mapping[str, str],
    primary_scaler_replicas: Mapping[str, Any] | None,
) -> JsonDict:
    source_spec = source.get("spec") or {}
    source_target = source_spec.get("scaleTargetRef") or {}
    scale_target: JsonDict = {"name": f"{target_name}{PRIMARY_SUFFIX}"}
    for key in ("kind", "apiVersion", "envSourceContainerName"):
        if source_target.get(key):
            scale_target[key] = source_target[key]
    spec: JsonDict = {"scaleTargetRef": scale_target}
    for field in COPIED_SO_FIELDS:
        if source_spec.get(field) is not None:
            spec[field] = deep_copy(source_spec[field])
    spec["triggers"] = primary_triggers(list(spec.get("triggers") or []), target_name, primary_queries)
    # KEDA names the HPA it creates after the ScaledObject unless `advanced` names it: a named one gets
    # `-primary` too, so the two ScaledObjects never share an HPA.
    advanced = spec.setdefault("advanced", {})
    hpa_config = advanced.setdefault("horizontalPodAutoscalerConfig", {})
    if hpa_config.get("name"):
        hpa_config["name"] = f"{hpa_config['name']}{PRIMARY_SUFFIX}"
    for field, override in (
        ("minReplicaCount", (primary_scaler_replicas or {}).get("minReplicas")),
        ("maxReplicaCount", (primary_scaler_replicas or {}).get("maxReplicas")),
    ):
        if override is not None:
            spec[field] = override
    return spec


def build_primary_scaled_object(
    source: Mapping[str, Any],
    target_name: str,
    canary: CanaryOwner,
    primary_queries: Mapping[str, str],
    primary_scaler_replicas: Mapping[str, Any] | None = None,
) -> JsonDict:
    meta = source.get("metadata") or {}
    return {
        "apiVersion": str(source.get("apiVersion") or "keda.sh/v1alpha1"),
        "kind": "ScaledObject",
        "metadata": {
            "name": primary_scaled_object_name(str(meta.get("name", ""))),
            "namespace": meta.get("namespace", canary.namespace),
            "labels": without_flux_keys(meta.get("labels")),
            "annotations": {
                key: value
                for key, value in without_flux_keys(meta.get("annotations")).items()
                if key != PAUSED_REPLICAS_ANNOTATION  # the primary is never paused
            },
            "ownerReferences": [owner_reference(canary)],
        },
        "spec": primary_scaled_object_spec(source, target_name, primary_queries, primary_scaler_replicas),
    }


def primary_scaled_object_update(live: Mapping[str, Any], desired: Mapping[str, Any]) -> JsonDict | None:
    """The live primary with the desired spec, or None when the spec is already the desired one."""
    if live.get("spec") == desired.get("spec"):
        return None
    updated: JsonDict = deep_copy(dict(live))
    updated["spec"] = deep_copy(dict(desired.get("spec") or {}))
    return updated


def with_paused_replicas(scaled_object: Mapping[str, Any], *, paused: bool) -> JsonDict | None:
    """The ScaledObject paused at zero replicas (or resumed), or None when it already is."""
    annotations = dict((scaled_object.get("metadata") or {}).get("annotations") or {})
    if paused == (annotations.get(PAUSED_REPLICAS_ANNOTATION) == "0") and (
        paused or PAUSED_REPLICAS_ANNOTATION not in annotations
    ):
        return None
    if paused:
        annotations[PAUSED_REPLICAS_ANNOTATION] = "0"
    else:
        annotations.pop(PAUSED_REPLICAS_ANNOTATION, None)
    updated: JsonDict = deep_copy(dict(scaled_object))
    updated.setdefault("metadata", {})["annotations"] = annotations
    return updated
