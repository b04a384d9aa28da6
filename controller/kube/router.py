"""The router port on Kubernetes: the `{svc}-canary`, `{svc}-primary` and apex `{svc}` ClusterIP Services."""

from __future__ import annotations

import logging
from typing import Any

from controller.api import Canary
from controller.errors import ConflictError, KubeError
from controller.kube.api import SERVICES
from controller.kube.cluster import Cluster
from controller.kube.objects import deep_copy
from controller.kube.services import (
    ServiceRole,
    desired_service,
    is_owned_by,
    last_applied_selector,
    reconcile_service,
    service_names,
)
from controller.kube.workloads import owner_of
from controller.rollout.ports import Role, Target

logger = logging.getLogger(__name__)


class KubeRouter:
    """Implements `controller.rollout.ports.Router` for `provider: kubernetes`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        # (namespace, name) -> (resourceVersion, desired Service) last found in step: while neither
        # changes, the Service needs no comparison (a steady tick reconciles three Services).
        self._in_step: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    async def initialize(self, canary: Canary, target: Target) -> None:
        await self._reconcile(canary, target, "canary", {target.label: target.value})
        await self._reconcile(canary, target, "primary", {target.label: f"{target.value}-primary"})

    async def reconcile(self, canary: Canary, target: Target, *, apex_selects: Role) -> None:
        # The selector switch: one Service update moves every new connection to the pods of one role.
        value = {
            Role.PRIMARY: f"{target.value}-primary",
            Role.CANARY: target.value,
            Role.PREVIOUS: f"{target.value}-previous",
        }[apex_selects]
        await self._reconcile(canary, target, "apex", {target.label: value})

    async def finalize(self, canary: Canary, target: Target) -> None:
        """Flagger's `KubernetesDefaultRouter.Finalize`: only an apex Service the Canary does not own."""
        name = service_names(canary.spec.service, canary.target_name).apex
        live = self.cluster.services.get(canary.namespace, name)
        if live is None:
            raise KubeError(f'service {name}.{canary.namespace} get query error: services "{name}" not found')
        if is_owned_by(live, canary.name):
            return  # created by the Canary: garbage-collected with it
        applied = last_applied_selector(live)
        if applied is None:
            await self._reconcile(canary, target, "apex", {target.label: target.value})
            return
        updated = deep_copy(dict(live))
        updated.setdefault("spec", {})["selector"] = applied
        if updated == live:
            return
        try:
            written = await self.cluster.api.replace(SERVICES, canary.namespace, name, updated)
        except KubeError as error:
            raise KubeError(f"service {name} update error: {error}") from error
        self.cluster.services.remember(written)

    async def _reconcile(
        self, canary: Canary, target: Target, role: ServiceRole, selector: dict[str, str]
    ) -> None:
        service = canary.spec.service
        names = service_names(service, canary.target_name)
        name = names.of(role)
        ns = canary.namespace
        desired = desired_service(
            role,
            names,
            service,
            selector,
            target.label,
            owner_of(canary),
            target.ports,
        )
        live = self.cluster.services.get(ns, name)
        if live is None:
            try:
                written = await self.cluster.api.create(SERVICES, ns, desired)
            except ConflictError:
                # Created by someone else since the cache was filled: adopt it on the next tick.
                return
            except KubeError as error:
                raise KubeError(
                    f"reconcileService failed: service {name}.{ns} create error: {error}"
                ) from error
            self.cluster.services.remember(written)
            logger.info("Service %s.%s created", name, ns, extra={"canary": canary.key})
            return
        version = str((live.get("metadata") or {}).get("resourceVersion") or "")
        if version and self._in_step.get((ns, name)) == (version, desired):
            return
        updated = reconcile_service(live, desired, canary.name, service.unmanaged_metadata)
        if updated is None:
            self._in_step[(ns, name)] = (version, desired)
            return
        self._in_step.pop((ns, name), None)
        try:
            written = await self.cluster.api.replace(SERVICES, ns, name, updated)
        except KubeError as error:
            raise KubeError(f"reconcileService failed: service {name} update error: {error}") from error
        self.cluster.services.remember(written)
        logger.info("Service %s updated", name, extra={"canary": canary.key})
