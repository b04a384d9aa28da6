"""The `<target>-primary` Deployment (spec 1.2 creation, 1.3 promotion) derived from the target.

Pure functions from the target Deployment dict; the adapter in `deployments.py` does the I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from controller.kube.configs import ConfigRef, rename_config_refs
from controller.kube.objects import (
    PRIMARY_SUFFIX,
    CanaryOwner,
    JsonDict,
    deep_copy,
    filter_by_prefixes,
    owner_reference,
    without_flux_keys,
)
from controller.kube.selectors import SelectorLabel

FLAGGER_ID_ANNOTATION = "flagger-id"
COPIED_SPEC_FIELDS = ("progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy")
# Flagger's daemonset_controller.go copies these (a DaemonSet has no replicas and no progress deadline).
COPIED_DAEMONSET_SPEC_FIELDS = ("minReadySeconds", "revisionHistoryLimit", "updateStrategy")
# How Flagger "scales a DaemonSet to zero": a nodeSelector no node matches. Never part of a revision.
SCALE_TO_ZERO_NODE_SELECTOR = {"flagger.app/scale-to-zero": "true"}


def without_scale_to_zero(template: Mapping[str, Any]) -> JsonDict:
    """A pod template without the scale-to-zero nodeSelector (an emptied nodeSelector is dropped, so a
    DaemonSet scaled to zero and back hashes as before)."""
    copied: JsonDict = deep_copy(dict(template))
    pod_spec = copied.get("spec") or {}
    node_selector = pod_spec.get("nodeSelector")
    if isinstance(node_selector, dict):
        for key in SCALE_TO_ZERO_NODE_SELECTOR:
            node_selector.pop(key, None)
        if not node_selector:
            pod_spec.pop("nodeSelector")
    return copied


def _copied_fields(kind: str) -> tuple[str, ...]:
    return COPIED_DAEMONSET_SPEC_FIELDS if kind == "DaemonSet" else COPIED_SPEC_FIELDS


def primary_name(target_name: str) -> str:
    return f"{target_name}{PRIMARY_SUFFIX}"


def new_flagger_id() -> str:
    return str(uuid.uuid4())


def _rewrite_label_selector(selector: JsonDict, target_name: str, selector_labels: Sequence[str]) -> None:
    """Point an affinity/spread selector at the primary pods when it selects the target by name."""
    match_labels = selector.get("matchLabels") or {}
    for key in selector_labels:
        if match_labels.get(key) == target_name:
            match_labels[key] = primary_name(target_name)
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") not in selector_labels:
            continue
        values = expression.get("values") or []
        for index, value in enumerate(values):
            if value == target_name:
                values[index] = primary_name(target_name)
                break


def rewrite_affinity(pod_spec: JsonDict, target_name: str, selector_labels: Sequence[str]) -> None:
    """In place: topologySpreadConstraints and podAntiAffinity selectors (not podAffinity), as Flagger."""
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        if isinstance(constraint.get("labelSelector"), dict):
            _rewrite_label_selector(constraint["labelSelector"], target_name, selector_labels)
    anti_affinity = (pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for weighted in anti_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        selector = (weighted.get("podAffinityTerm") or {}).get("labelSelector")
        if isinstance(selector, dict):
            _rewrite_label_selector(selector, target_name, selector_labels)
    for term in anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(term.get("labelSelector"), dict):
            _rewrite_label_selector(term["labelSelector"], target_name, selector_labels)


def primary_pod_template(
    target: Mapping[str, Any],
    label: SelectorLabel,
    tracked: Iterable[ConfigRef],
    selector_labels: Sequence[str],
    flagger_id: str,
) -> JsonDict:
    """The target's pod template as the primary runs it: relabelled, configs renamed, affinity rewritten."""
    template = (target.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    labels = without_flux_keys(template_meta.get("labels"))
    labels[label.key] = label.primary_value
    annotations = {
        key: value
        for key, value in without_flux_keys(template_meta.get("annotations")).items()
        if key != FLAGGER_ID_ANNOTATION
    }
    annotations[FLAGGER_ID_ANNOTATION] = flagger_id
    pod_spec = rename_config_refs(template.get("spec") or {}, tracked)
    target_name = str((target.get("metadata") or {}).get("name", ""))
    rewrite_affinity(pod_spec, target_name, selector_labels)
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec}


def primary_labels(
    target: Mapping[str, Any], label: SelectorLabel, include_prefixes: Sequence[str]
) -> dict[str, str]:
    labels = filter_by_prefixes((target.get("metadata") or {}).get("labels"), include_prefixes)
    labels[label.key] = label.primary_value
    return labels


def build_primary_deployment(
    target: Mapping[str, Any],
    canary: CanaryOwner,
    label: SelectorLabel,
    *,
    include_prefixes: Sequence[str],
    selector_labels: Sequence[str],
    tracked: Iterable[ConfigRef] = (),
    flagger_id: str | None = None,
    kind: str = "Deployment",
) -> JsonDict:
    """The primary Deployment (or DaemonSet, by `kind`) created when it is absent (spec 1.2)."""
    target_meta = target.get("metadata") or {}
    target_spec = target.get("spec") or {}
    spec: JsonDict = {
        "selector": {"matchLabels": {label.key: label.primary_value}},
        "template": primary_pod_template(
            target, label, tracked, selector_labels, flagger_id or new_flagger_id()
        ),
    }
    if kind == "DaemonSet":
        spec["template"] = without_scale_to_zero(spec["template"])
    else:
        replicas = target_spec.get("replicas")
        spec["replicas"] = replicas if isinstance(replicas, int) and replicas > 0 else 1
    for field in _copied_fields(kind):
        if field in target_spec:
            spec[field] = deep_copy(target_spec[field])
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": primary_name(str(target_meta.get("name", ""))),
            "namespace": target_meta.get("namespace", canary.namespace),
            "labels": primary_labels(target, label, include_prefixes),
            # Creation keeps every annotation (minus Flux's); promotion filters them (spec 1.3).
            "annotations": without_flux_keys(target_meta.get("annotations")),
            "ownerReferences": [owner_reference(canary)],
        },
        "spec": spec,
    }


def promoted_primary(
    primary: Mapping[str, Any],
    target: Mapping[str, Any],
    label: SelectorLabel,
    *,
    include_prefixes: Sequence[str],
    selector_labels: Sequence[str],
    tracked: Iterable[ConfigRef] = (),
    has_autoscaler: bool,
    configs_changed: bool,
    make_flagger_id: Callable[[], str] = new_flagger_id,
    kind: str = "Deployment",
) -> JsonDict:
    """The primary after `Promote` (spec 1.3): the full object to PUT back (resourceVersion kept).

    Unlike Flagger, the `flagger-id` annotation is renewed only when a tracked config changed (a changed
    template restarts the pods by itself), so promoting an identical spec does not restart the primary
    (Flagger issue #1163).
    """
    tracked_list = list(tracked)
    promoted: JsonDict = deep_copy(dict(primary))
    spec = promoted.setdefault("spec", {})
    target_spec = target.get("spec") or {}
    for field in _copied_fields(kind):
        if field in target_spec:
            spec[field] = deep_copy(target_spec[field])
        else:
            spec.pop(field, None)
    if not has_autoscaler and kind != "DaemonSet":
        if target_spec.get("replicas") is None:
            spec.pop("replicas", None)
        else:
            spec["replicas"] = target_spec["replicas"]
    live_annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    live_id = live_annotations.get(FLAGGER_ID_ANNOTATION)
    # A changed template restarts the pods by itself; only a config change needs a fresh flagger-id.
    flagger_id = make_flagger_id() if configs_changed or not live_id else str(live_id)
    template = primary_pod_template(target, label, tracked_list, selector_labels, flagger_id)
    spec["template"] = without_scale_to_zero(template) if kind == "DaemonSet" else template
    meta = promoted.setdefault("metadata", {})
    meta["annotations"] = filter_by_prefixes(
        (target.get("metadata") or {}).get("annotations"), include_prefixes
    )
    meta["labels"] = primary_labels(target, label, include_prefixes)
    return promoted
