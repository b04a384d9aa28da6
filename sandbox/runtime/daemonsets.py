"""The DaemonSet controller: one pod per eligible node, replaced when the template changes.

A node is eligible when it matches the pod template's `nodeSelector` (and, like the real controller,
`requiredDuringScheduling` node affinity terms of `matchExpressions` on labels). Flagger scales a DaemonSet
"to zero" by adding the node selector `flagger.app/scale-to-zero: "true"`, which no node carries: its
pods go away. A template change replaces each node's pod (RollingUpdate, maxUnavailable 1: the old pod
is deleted first). Pods carry `controller-revision-hash` (a hash of the template) and
`pod-template-generation`, and the status counts what `kubectl rollout status` and Flagger read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from sandbox.runtime.events import EventRecorder
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import DAEMONSETS, PODS, Kube, KubeError, Obj
from sandbox.runtime.objects import (
    controller_of,
    is_terminating,
    labels_of,
    owned_by,
    owner_reference,
    pod_is_available,
    pod_is_ready,
    random_suffix,
    selector_matches,
)
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)

REVISION_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"


def template_hash(daemon_set: Obj) -> str:
    template = daemon_set.get("spec", {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return selector_matches({"matchExpressions": [expression]}, labels)


def node_eligible(pod_spec: Obj, node: Obj) -> bool:
    """nodeSelector and required node affinity (label expressions) of a pod template against a node."""
    labels = labels_of(node)
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != str(value):
            return False
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = affinity.get("nodeSelectorTerms") or []
    if terms:
        return any(
            all(_expression_matches(e, labels) for e in term.get("matchExpressions") or []) for term in terms
        )
    return True


class DaemonSetController:
    def __init__(
        self, kube: Kube, daemon_sets: Informer, pods: Informer, nodes: Informer, events: EventRecorder
    ) -> None:
        self.kube = kube
        self.daemon_sets = daemon_sets
        self.pods = pods
        self.nodes = nodes
        self.events = events
        self.queue = WorkQueue("daemonsets", self.reconcile)
        daemon_sets.subscribe(self._on_daemon_set)
        pods.subscribe(self._on_pod)
        nodes.subscribe(self._on_node)

    def _on_daemon_set(self, event_type: str, daemon_set: Obj) -> None:
        meta = daemon_set["metadata"]
        self.queue.add((meta.get("namespace", ""), meta["name"]))

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        owner = controller_of(pod)
        if owner and owner.get("kind") == "DaemonSet":
            self.queue.add((pod["metadata"].get("namespace", ""), str(owner["name"])))

    def _on_node(self, event_type: str, node: Obj) -> None:
        for key in list(self.daemon_sets.cache):
            self.queue.add(key)

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        daemon_set = self.daemon_sets.get(namespace, name)
        if daemon_set is None or is_terminating(daemon_set):
            return None
        spec = daemon_set.get("spec", {})
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        revision = template_hash(daemon_set)
        eligible = sorted(
            node["metadata"]["name"] for node in self.nodes.cache.values() if node_eligible(pod_spec, node)
        )
        owned = [
            pod
            for pod in self.pods.in_namespace(namespace)
            if owned_by(pod, daemon_set) and selector_matches(spec.get("selector"), labels_of(pod))
        ]
        live = [p for p in owned if not is_terminating(p) and p.get("status", {}).get("phase") != "Failed"]
        by_node: dict[str, list[Obj]] = {}
        for pod in live:
            by_node.setdefault(str(pod.get("spec", {}).get("nodeName") or ""), []).append(pod)
        changed = False
        for node_name, pods in by_node.items():
            surplus = pods[1:] if node_name in eligible else pods  # misscheduled, or one too many
            outdated = [p for p in pods[:1] if labels_of(p).get(REVISION_LABEL) != revision]
            for pod in [*surplus, *(outdated if node_name in eligible else [])]:
                await self._delete(daemon_set, pod)
                changed = True
        for node_name in eligible:
            if node_name not in by_node:
                await self._create_pod(daemon_set, node_name, revision)
                changed = True
        await self._write_status(daemon_set, eligible, live, revision)
        return 1.0 if changed else None

    async def _delete(self, daemon_set: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        await self.kube.delete(PODS, pod["metadata"].get("namespace", ""), name)
        await self.events.record(daemon_set, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    async def _create_pod(self, daemon_set: Obj, node_name: str, revision: str) -> None:
        meta = daemon_set["metadata"]
        template = copy.deepcopy(daemon_set.get("spec", {}).get("template") or {})
        template_meta = template.get("metadata") or {}
        labels = dict(template_meta.get("labels") or {})
        labels[REVISION_LABEL] = revision
        labels[GENERATION_LABEL] = str(meta.get("generation") or 1)
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{random_suffix()}",
                "namespace": meta.get("namespace", ""),
                "labels": labels,
                "annotations": template_meta.get("annotations") or {},
                "ownerReferences": [owner_reference(daemon_set)],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": node_name},
        }
        try:
            created = await self.kube.create(PODS, meta.get("namespace", ""), pod)
        except KubeError as exc:
            await self.events.record(daemon_set, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        await self.events.record(
            daemon_set, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
        )

    async def _write_status(
        self, daemon_set: Obj, eligible: list[str], live: list[Obj], revision: str
    ) -> None:
        min_ready = int(daemon_set.get("spec", {}).get("minReadySeconds") or 0)
        scheduled = [p for p in live if p.get("spec", {}).get("nodeName") in eligible]
        available = sum(1 for p in scheduled if pod_is_available(p, min_ready))
        status: Obj = {
            "currentNumberScheduled": len({p["spec"]["nodeName"] for p in scheduled}),
            "desiredNumberScheduled": len(eligible),
            "numberMisscheduled": len(live) - len(scheduled),
            "numberReady": sum(1 for p in scheduled if pod_is_ready(p)),
            "numberAvailable": available,
            "numberUnavailable": max(0, len(eligible) - available),
            "updatedNumberScheduled": sum(
                1 for p in scheduled if labels_of(p).get(REVISION_LABEL) == revision
            ),
            "observedGeneration": int(daemon_set["metadata"].get("generation") or 0),
        }
        current = daemon_set.get("status") or {}
        if any(current.get(k, 0) != v for k, v in status.items()):
            meta = daemon_set["metadata"]
            await self.kube.patch(
                DAEMONSETS, meta.get("namespace", ""), meta["name"], {"status": status}, subresource="status"
            )
