"""The Deployment controller: one ReplicaSet per pod template, rolling updates, real status."""

from __future__ import annotations

import copy
import logging

from sandbox.runtime.events import EventRecorder
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import DEPLOYMENTS, REPLICASETS, Kube, KubeError, Obj
from sandbox.runtime.objects import controller_of, is_terminating, now, owned_by, owner_reference
from sandbox.runtime.rollout import (
    HASH_LABEL,
    REVISION_ANNOTATION,
    deployment_status,
    desired_replicas,
    plan_scaling,
    revision_of,
    spec_replicas,
    template_hash,
)
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)

#: Old ReplicaSets kept at zero replicas for `kubectl rollout undo`, unless the Deployment says otherwise.
DEFAULT_REVISION_HISTORY = 10


def _comparable_status(status: Obj) -> Obj:
    """Status without condition timestamps, to avoid writes that change nothing but the clock."""
    stripped = copy.deepcopy(status)
    for condition in stripped.get("conditions") or []:
        condition.pop("lastUpdateTime", None)
        condition.pop("lastTransitionTime", None)
    return stripped


class DeploymentController:
    def __init__(
        self, kube: Kube, deployments: Informer, replica_sets: Informer, events: EventRecorder
    ) -> None:
        self.kube = kube
        self.deployments = deployments
        self.replica_sets = replica_sets
        self.events = events
        self.queue = WorkQueue("deployments", self.reconcile)
        deployments.subscribe(self._on_deployment)
        replica_sets.subscribe(self._on_replica_set)

    def _on_deployment(self, event_type: str, deployment: Obj) -> None:
        meta = deployment["metadata"]
        self.queue.add((meta.get("namespace", ""), meta["name"]))

    def _on_replica_set(self, event_type: str, replica_set: Obj) -> None:
        owner = controller_of(replica_set)
        if owner and owner.get("kind") == "Deployment":
            self.queue.add((replica_set["metadata"].get("namespace", ""), str(owner["name"])))

    def owned_replica_sets(self, deployment: Obj) -> list[Obj]:
        namespace = deployment["metadata"].get("namespace", "")
        return [rs for rs in self.replica_sets.in_namespace(namespace) if owned_by(rs, deployment)]

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        deployment = self.deployments.get(namespace, name)
        if deployment is None or is_terminating(deployment):
            return None
        owned = self.owned_replica_sets(deployment)
        wanted_hash = template_hash(deployment.get("spec", {}).get("template") or {})
        new = next(
            (rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == wanted_hash), None
        )
        old = [rs for rs in owned if rs is not new]
        new_created = False
        if new is None:
            if deployment.get("spec", {}).get("paused"):
                return None
            new = await self._create_replica_set(deployment, wanted_hash, old)
            new_created = True
        elif not deployment.get("spec", {}).get("paused"):
            await self._scale(deployment, new, old)
        await self._sync_revision(deployment, new)
        await self._prune_history(deployment, old)
        result = deployment_status(deployment, new, old, new_created, now())
        if _comparable_status(result.status) != _comparable_status(deployment.get("status") or {}):
            await self.kube.patch(
                DEPLOYMENTS, namespace, name, {"status": result.status}, subresource="status"
            )
        return result.recheck_after

    async def _create_replica_set(self, deployment: Obj, wanted_hash: str, old: list[Obj]) -> Obj:
        meta = deployment["metadata"]
        spec = deployment.get("spec", {})
        template = copy.deepcopy(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = wanted_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = wanted_hash
        revision = max((revision_of(rs) for rs in old), default=0) + 1
        # With old pods still running, start at zero: the next pass scales up within the strategy's budget.
        replicas = desired_replicas(deployment) if all(spec_replicas(rs) == 0 for rs in old) else 0
        body: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{wanted_hash}",
                "namespace": meta.get("namespace", ""),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION_ANNOTATION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(desired_replicas(deployment)),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            created = await self.kube.create(REPLICASETS, meta.get("namespace", ""), body)
        except KubeError as exc:
            if not exc.conflict:
                raise
            created = await self.kube.get(REPLICASETS, meta.get("namespace", ""), body["metadata"]["name"])
        else:
            await self.events.record(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} to {replicas}",
            )
        return created

    async def _scale(self, deployment: Obj, new: Obj, old: list[Obj]) -> None:
        namespace = deployment["metadata"].get("namespace", "")
        for replica_set in [new, *old]:
            wanted_min_ready = int(deployment.get("spec", {}).get("minReadySeconds") or 0)
            if int(replica_set.get("spec", {}).get("minReadySeconds") or 0) != wanted_min_ready:
                await self.kube.patch(
                    REPLICASETS,
                    namespace,
                    replica_set["metadata"]["name"],
                    {"spec": {"minReadySeconds": wanted_min_ready}},
                )
        for rs_name, replicas in plan_scaling(deployment, new, old).items():
            current = next(rs for rs in [new, *old] if rs["metadata"]["name"] == rs_name)
            await self.kube.patch(REPLICASETS, namespace, rs_name, {"spec": {"replicas": replicas}})
            direction = "up" if replicas > spec_replicas(current) else "down"
            await self.events.record(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs_name} to {replicas}",
            )

    async def _sync_revision(self, deployment: Obj, new: Obj) -> None:
        """Copy the new ReplicaSet's revision to the Deployment (`kubectl rollout history` reads it)."""
        revision = str(revision_of(new))
        annotations = deployment["metadata"].get("annotations") or {}
        if annotations.get(REVISION_ANNOTATION) != revision:
            meta = deployment["metadata"]
            await self.kube.patch(
                DEPLOYMENTS,
                meta.get("namespace", ""),
                meta["name"],
                {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}},
            )

    async def _prune_history(self, deployment: Obj, old: list[Obj]) -> None:
        limit = deployment.get("spec", {}).get("revisionHistoryLimit")
        keep = DEFAULT_REVISION_HISTORY if limit is None else int(limit)
        idle = [rs for rs in old if spec_replicas(rs) == 0 and not rs.get("status", {}).get("replicas")]
        idle.sort(key=revision_of)
        for replica_set in idle[: max(0, len(idle) - keep)]:
            meta = replica_set["metadata"]
            await self.kube.delete(REPLICASETS, meta.get("namespace", ""), meta["name"])
