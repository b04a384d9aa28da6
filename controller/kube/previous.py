"""``{target}-previous``: the version a promotion replaced, kept running for an instant rollback.

Argo Rollouts keeps the old ReplicaSet up for ``scaleDownDelaySeconds``. Flagger's primary Deployment is
updated in place, so its old pods go with the rolling update; Flagman copies the primary, just before a
promotion changes it, to a Deployment of its own whose pods carry ``{label}: {value}-previous``. The apex
Service can then select them in one update (``Role.PREVIOUS``), and the primary gets their template back.
Deployments only (a DaemonSet has no replicas to keep warm).
"""

from __future__ import annotations

import logging
from typing import Any

from controller.api import Canary
from controller.errors import ConflictError, KubeError, NotFoundError
from controller.kube.api import DEPLOYMENTS
from controller.kube.cluster import Cluster
from controller.kube.objects import CanaryOwner, JsonDict, deep_copy, owner_reference
from controller.kube.primary import primary_name
from controller.rollout.ports import DeploymentState, PreviousState, Target

logger = logging.getLogger(__name__)

PREVIOUS_SUFFIX = "-previous"
REVISION_ANNOTATION = "flagman.app/revision"
"""On ``{target}-previous``: the promoted revision (``status.lastPromotedSpec``) its pods run."""


def previous_name(canary: Canary) -> str:
    return f"{canary.target_name}{PREVIOUS_SUFFIX}"


def _relabelled(template: JsonDict, label: str, value: str) -> JsonDict:
    copied: JsonDict = deep_copy(template)
    copied.setdefault("metadata", {}).setdefault("labels", {})[label] = value
    return copied


def previous_deployment(primary: JsonDict, canary: Canary, target: Target, revision: str) -> dict[str, Any]:
    """The primary's pod template and replicas under the previous version's name and label."""
    spec = primary.get("spec") or {}
    value = f"{target.value}{PREVIOUS_SUFFIX}"
    replicas = spec.get("replicas") or (primary.get("status") or {}).get("replicas") or 1
    owner = CanaryOwner(canary.name, canary.namespace, canary.ref.uid)
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": previous_name(canary),
            "namespace": canary.namespace,
            "labels": {target.label: value},
            "annotations": {REVISION_ANNOTATION: revision},
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {
            "replicas": int(replicas),
            "selector": {"matchLabels": {target.label: value}},
            "template": _relabelled(spec.get("template") or {}, target.label, value),
        },
    }
    for field in ("minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit"):
        if field in spec:
            body["spec"][field] = spec[field]
    return body


def _keeps(live: JsonDict, revision: str) -> bool:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return bool((live.get("spec") or {}).get("replicas")) and annotations.get(REVISION_ANNOTATION) == revision


class KubePreviousVersions:
    """Implements `controller.rollout.ports.PreviousVersions` with one Deployment per Canary."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def keep(self, canary: Canary, target: Target, revision: str) -> None:
        ns, name = canary.namespace, previous_name(canary)
        primary = self.cluster.deployments.get(ns, primary_name(canary.target_name))
        if primary is None:
            raise KubeError(f"deployment {primary_name(canary.target_name)}.{ns} not found")
        body = previous_deployment(primary, canary, target, revision)
        live = self.cluster.deployments.get(ns, name)
        if live is not None and _keeps(live, revision):
            # Kept for this very promotion already (a promotion tick that failed after updating the
            # primary is repeated): copying the primary again would keep the new version.
            return
        try:
            if live is None:
                try:
                    written = await self.cluster.api.create(DEPLOYMENTS, ns, body)
                except ConflictError:
                    live = await self.cluster.api.get(DEPLOYMENTS, ns, name)
            if live is not None:
                body["metadata"]["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
                written = await self.cluster.api.replace(DEPLOYMENTS, ns, name, body)
        except KubeError as error:
            raise KubeError(f"keeping the previous version in {name}.{ns} failed: {error}") from error
        self.cluster.deployments.remember(written)
        logger.info("Deployment %s.%s keeps the previous version", name, ns, extra={"canary": canary.key})

    async def state(self, canary: Canary) -> PreviousState | None:
        live = self.cluster.deployments.get(canary.namespace, previous_name(canary))
        if live is None or not (live.get("spec") or {}).get("replicas"):
            return None  # scaled to zero when its delay was over: kept no more
        revision = str(((live.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION) or "")
        return PreviousState(DeploymentState.from_dict(live), revision)

    async def restore_primary(self, canary: Canary, target: Target) -> None:
        ns = canary.namespace
        name = primary_name(canary.target_name)
        previous = self.cluster.deployments.get(ns, previous_name(canary))
        primary = self.cluster.deployments.get(ns, name)
        if previous is None or primary is None:
            raise KubeError(f"restoring {name}.{ns}: the previous version or the primary is gone")
        template = (previous.get("spec") or {}).get("template") or {}
        restored = deep_copy(primary)
        restored.setdefault("spec", {})["template"] = _relabelled(
            template, target.label, f"{target.value}-primary"
        )
        if restored == primary:
            return
        try:
            written = await self.cluster.api.replace(DEPLOYMENTS, ns, name, restored)
        except KubeError as error:
            raise KubeError(
                f"restoring deployment {name}.{ns} to the previous version failed: {error}"
            ) from error
        self.cluster.deployments.remember(written)

    async def scale_down(self, canary: Canary) -> None:
        ns, name = canary.namespace, previous_name(canary)
        live = self.cluster.deployments.get(ns, name)
        if live is None or not (live.get("spec") or {}).get("replicas"):
            return
        try:
            written = await self.cluster.api.merge_patch(DEPLOYMENTS, ns, name, {"spec": {"replicas": 0}})
        except NotFoundError:
            return
        except KubeError as error:
            raise KubeError(f"scaling down deployment {name}.{ns} failed: {error}") from error
        self.cluster.deployments.remember(written)
        logger.info("Deployment %s.%s scaled to zero", name, ns, extra={"canary": canary.key})
