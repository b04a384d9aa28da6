"""The ReplicaSet controller: create and delete Pods to match `spec.replicas`, and count them in status."""

from __future__ import annotations

import copy
import logging
import time

from sandbox.runtime.events import EventRecorder
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import PODS, REPLICASETS, Kube, KubeError, Obj
from sandbox.runtime.objects import (
    controller_of,
    is_terminating,
    labels_of,
    owned_by,
    owner_reference,
    pod_is_available,
    pod_is_ready,
    random_suffix,
    seconds_until_available,
    selector_matches,
)
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)

EXPECTATION_TIMEOUT_SECONDS = 5.0


def deletion_order(pod: Obj) -> tuple[int, int, str]:
    """Scale down the pods that matter least first: unassigned, then not ready, then the newest."""
    phase_rank = 0 if pod.get("status", {}).get("phase", "Pending") == "Pending" else 1
    ready_rank = 1 if pod_is_ready(pod) else 0
    created = pod["metadata"].get("creationTimestamp", "")
    return (phase_rank, ready_rank, "".join(chr(0x10FFFF - ord(c)) for c in created))


class ReplicaSetController:
    def __init__(self, kube: Kube, replica_sets: Informer, pods: Informer, events: EventRecorder) -> None:
        self.kube = kube
        self.replica_sets = replica_sets
        self.pods = pods
        self.events = events
        self.queue = WorkQueue("replicasets", self.reconcile)
        # Pods this controller created or deleted that the pod cache has not caught up with yet (client-go's
        # "expectations"): without them a reconcile racing the watch would create or delete twice.
        self._created: dict[Key, dict[str, float]] = {}
        self._deleted: dict[Key, dict[str, float]] = {}
        replica_sets.subscribe(self._on_replica_set)
        pods.subscribe(self._on_pod)

    def _on_replica_set(self, event_type: str, replica_set: Obj) -> None:
        meta = replica_set["metadata"]
        self.queue.add((meta.get("namespace", ""), meta["name"]))

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        owner = controller_of(pod)
        if owner and owner.get("kind") == "ReplicaSet":
            self.queue.add((pod["metadata"].get("namespace", ""), str(owner["name"])))

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        replica_set = self.replica_sets.get(namespace, name)
        if replica_set is None or is_terminating(replica_set):
            return None
        spec = replica_set.get("spec", {})
        selector = spec.get("selector") or {}
        pods = [
            pod
            for pod in self.pods.in_namespace(namespace)
            if owned_by(pod, replica_set) and selector_matches(selector, labels_of(pod))
        ]
        cached_names = {pod["metadata"]["name"] for pod in pods}
        clock = time.monotonic()
        created = self._created.setdefault(key, {})
        for pod_name, since in list(created.items()):
            if pod_name in cached_names or clock - since > EXPECTATION_TIMEOUT_SECONDS:
                del created[pod_name]
        deleted = self._deleted.setdefault(key, {})
        for pod_name, since in list(deleted.items()):
            if pod_name not in cached_names or clock - since > EXPECTATION_TIMEOUT_SECONDS:
                del deleted[pod_name]
        active = [
            pod
            for pod in pods
            if not is_terminating(pod)
            and pod.get("status", {}).get("phase") != "Failed"
            and pod["metadata"]["name"] not in deleted
        ]
        wanted = int(spec.get("replicas") or 0)
        count = len(active) + len(created)
        if count < wanted:
            for _ in range(wanted - count):
                created[await self._create_pod(replica_set)] = clock
        elif len(active) > wanted and not created:
            for pod in sorted(active, key=deletion_order)[: len(active) - wanted]:
                await self.kube.delete(PODS, namespace, pod["metadata"]["name"])
                deleted[pod["metadata"]["name"]] = clock
                await self.events.record(
                    replica_set, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}"
                )
        min_ready = int(spec.get("minReadySeconds") or 0)
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": sum(1 for pod in active if pod_is_ready(pod)),
            "availableReplicas": sum(1 for pod in active if pod_is_available(pod, min_ready)),
            "observedGeneration": int(replica_set["metadata"].get("generation") or 0),
        }
        if {k: replica_set.get("status", {}).get(k, 0) for k in status} != status:
            await self.kube.patch(REPLICASETS, namespace, name, {"status": status}, subresource="status")
        waits = [w for pod in active if (w := seconds_until_available(pod, min_ready)) is not None]
        if created or deleted:
            waits.append(1.0)  # in case the watch never reports them
        return min(waits) + 0.05 if waits else None

    async def _create_pod(self, replica_set: Obj) -> str:
        meta = replica_set["metadata"]
        template = copy.deepcopy(replica_set.get("spec", {}).get("template") or {})
        template_meta = template.get("metadata") or {}
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{random_suffix()}",
                "namespace": meta.get("namespace", ""),
                "labels": template_meta.get("labels") or {},
                "annotations": template_meta.get("annotations") or {},
                "ownerReferences": [owner_reference(replica_set)],
            },
            "spec": template.get("spec") or {},
        }
        try:
            created = await self.kube.create(PODS, meta.get("namespace", ""), pod)
        except KubeError as exc:
            await self.events.record(replica_set, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        await self.events.record(
            replica_set, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
        )
        return str(created["metadata"]["name"])
