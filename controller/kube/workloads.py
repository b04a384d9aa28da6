"""The workloads port on Kubernetes: target and primary Deployments, tracked configs, the primary HPA.

Reads come from the watch caches (`Cluster`); writes go to the API and their responses are remembered
in the caches. A cache miss means "absent": creation conflicts (409) are treated as "already there".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from controller.api import Canary
from controller.errors import ConflictError, KubeError, NotFoundError, TargetError
from controller.kube.api import CONFIGMAPS, DEPLOYMENTS, HPAS, SECRETS
from controller.kube.autoscalers import build_primary_hpa, primary_hpa_name, primary_hpa_update
from controller.kube.cluster import Cluster
from controller.kube.configs import (
    ConfigKind,
    ConfigRef,
    config_checksum,
    discover_config_refs,
    exclusion_reason,
    primary_config_copy,
    primary_config_name,
)
from controller.kube.objects import CanaryOwner, JsonDict, parse_prefixes
from controller.kube.primary import build_primary_deployment, primary_name, promoted_primary
from controller.kube.selectors import DEFAULT_SELECTOR_LABELS, SelectorLabel, find_selector_label
from controller.kube.services import discover_ports
from controller.rollout.ports import DeploymentState, Revision, Role, Target
from controller.rollout.revision import template_hash

logger = logging.getLogger(__name__)

CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class WorkloadOptions:
    """The flags that shape generated objects (`-selector-labels`, `-include-label-prefix`,
    `-enable-config-tracking`)."""

    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS
    include_label_prefix: Sequence[str] = ()
    enable_config_tracking: bool = True

    @property
    def prefixes(self) -> tuple[str, ...]:
        return parse_prefixes(self.include_label_prefix)


def owner_of(canary: Canary) -> CanaryOwner:
    return CanaryOwner(name=canary.name, namespace=canary.namespace, uid=canary.ref.uid)


def _not_found_message(name: str, namespace: str) -> str:
    return f'deployment {name}.{namespace} get query error: deployments.apps "{name}" not found'


def _plural(kind: ConfigKind) -> str:
    return "configmaps" if kind == "configmap" else "secrets"


class KubeWorkloads:
    """Implements `controller.rollout.ports.Workloads`."""

    def __init__(self, cluster: Cluster, options: WorkloadOptions) -> None:
        self.cluster = cluster
        self.options = options

    # --- reading ----------------------------------------------------------------------------------

    def _target(self, canary: Canary) -> JsonDict:
        target = self.cluster.deployments.get(canary.namespace, canary.target_name)
        if target is None:
            raise TargetError(
                f"deployment {canary.target_key} get query error: "
                f'deployments.apps "{canary.target_name}" not found'
            )
        return target

    def _label(self, canary: Canary, target: JsonDict) -> SelectorLabel:
        return find_selector_label(target, tuple(self.options.selector_labels))

    def _tracked(self, canary: Canary, target: JsonDict) -> list[tuple[ConfigRef, JsonDict]]:
        """Tracked configs with their objects; a missing mandatory one is an error (as in Flagger)."""
        if not self.options.enable_config_tracking:
            return []
        pod_spec = ((target.get("spec") or {}).get("template") or {}).get("spec") or {}
        tracked: list[tuple[ConfigRef, JsonDict]] = []
        for ref in discover_config_refs(pod_spec):
            cache = self.cluster.configmaps if ref.kind == "configmap" else self.cluster.secrets
            obj = cache.get(canary.namespace, ref.name)
            if obj is None:
                message = (
                    f"{ref.kind} {ref.name}.{canary.namespace} get query error: "
                    f'{_plural(ref.kind)} "{ref.name}" not found'
                )
                if ref.optional:
                    logger.error(message, extra={"canary": canary.key})
                    continue
                raise KubeError(message)
            reason = exclusion_reason(ref.kind, obj)
            if reason:
                logger.debug("%s %s.%s not tracked: %s", ref.kind, ref.name, canary.namespace, reason)
                continue
            tracked.append((ref, obj))
        return tracked

    async def discover(self, canary: Canary) -> Target:
        target = self._target(canary)
        label = self._label(canary, target)
        service = canary.spec.service
        ports = discover_ports(target, service) if service.port_discovery else ()
        return Target(label=label.key, value=label.value, ports=ports)

    async def revision(self, canary: Canary) -> Revision:
        target = self._target(canary)
        template = (target.get("spec") or {}).get("template") or {}
        configs = {ref.status_key: config_checksum(obj) for ref, obj in self._tracked(canary, target)}
        return Revision(spec_hash=template_hash(template), tracked_configs=configs)

    async def deployment(self, canary: Canary, role: Role) -> DeploymentState:
        name = primary_name(canary.target_name) if role == Role.PRIMARY else canary.target_name
        obj = self.cluster.deployments.get(canary.namespace, name)
        if obj is None:
            raise NotFoundError(_not_found_message(name, canary.namespace))
        return DeploymentState.from_dict(obj)

    # --- configs ----------------------------------------------------------------------------------

    async def _sync_config_copies(self, canary: Canary, tracked: list[tuple[ConfigRef, JsonDict]]) -> bool:
        """Upsert every `-primary` copy; True when a copy's content changed (the primary must restart)."""
        changed = False
        for ref, source in tracked:
            cache = self.cluster.configmaps if ref.kind == "configmap" else self.cluster.secrets
            resource = CONFIGMAPS if ref.kind == "configmap" else SECRETS
            copy_name = primary_config_name(ref.name)
            existing = cache.get(canary.namespace, copy_name)
            desired = primary_config_copy(ref.kind, source, owner_of(canary), self.options.prefixes, existing)
            try:
                if existing is None:
                    written = await self.cluster.api.create(resource, canary.namespace, desired)
                    changed = True
                else:
                    same_content = existing.get("data") == desired.get("data") and (
                        ref.kind == "configmap" or existing.get("type") == desired.get("type")
                    )
                    existing_meta = existing.get("metadata") or {}
                    if (
                        same_content
                        and (existing_meta.get("labels") or {}) == desired["metadata"]["labels"]
                        and existing_meta.get("ownerReferences") == desired["metadata"]["ownerReferences"]
                    ):
                        continue
                    changed = changed or not same_content
                    desired["metadata"]["resourceVersion"] = existing_meta.get("resourceVersion")
                    written = await self.cluster.api.replace(resource, canary.namespace, copy_name, desired)
            except ConflictError:
                # Created or changed concurrently: the watch brings the current copy; the next tick syncs it.
                changed = True
                continue
            except KubeError as error:
                raise KubeError(f"{ref.kind} {copy_name}.{canary.namespace} sync failed: {error}") from error
            cache.remember(written)
            logger.info(
                "%s %s synced",
                "ConfigMap" if ref.kind == "configmap" else "Secret",
                copy_name,
                extra={"canary": canary.key},
            )
        return changed

    # --- primary ----------------------------------------------------------------------------------

    async def ensure_primary(self, canary: Canary, target: Target) -> None:
        name = primary_name(canary.target_name)
        if self.cluster.deployments.get(canary.namespace, name) is not None:
            return
        source = self._target(canary)
        tracked = self._tracked(canary, source)
        await self._sync_config_copies(canary, tracked)
        body = build_primary_deployment(
            source,
            owner_of(canary),
            SelectorLabel(target.label, target.value),
            include_prefixes=self.options.prefixes,
            selector_labels=tuple(self.options.selector_labels),
            tracked=[ref for ref, _ in tracked],
        )
        try:
            created = await self.cluster.api.create(DEPLOYMENTS, canary.namespace, body)
        except ConflictError:
            created = await self.cluster.api.get(DEPLOYMENTS, canary.namespace, name)
        except KubeError as error:
            raise KubeError(f"creating deployment {name}.{canary.namespace} failed: {error}") from error
        self.cluster.deployments.remember(created)
        logger.info("Deployment %s.%s created", name, canary.namespace, extra={"canary": canary.key})

    async def promote(self, canary: Canary, target: Target) -> None:
        name = primary_name(canary.target_name)
        label = SelectorLabel(target.label, target.value)
        for attempt in range(CONFLICT_RETRIES):
            source = self._target(canary)
            primary = self.cluster.deployments.get(canary.namespace, name)
            if primary is None:
                raise KubeError(_not_found_message(name, canary.namespace))
            tracked = self._tracked(canary, source)
            configs_changed = await self._sync_config_copies(canary, tracked)
            body = promoted_primary(
                primary,
                source,
                label,
                include_prefixes=self.options.prefixes,
                selector_labels=tuple(self.options.selector_labels),
                tracked=[ref for ref, _ in tracked],
                has_autoscaler=canary.spec.autoscaler_ref is not None,
                configs_changed=configs_changed,
            )
            if body == primary:
                return
            try:
                written = await self.cluster.api.replace(DEPLOYMENTS, canary.namespace, name, body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise KubeError(
                        f"updating deployment {name}.{canary.namespace} template spec failed: conflict"
                    ) from None
                self.cluster.deployments.remember(
                    await self.cluster.api.get(DEPLOYMENTS, canary.namespace, name)
                )
                continue
            except KubeError as error:
                raise KubeError(
                    f"updating deployment {name}.{canary.namespace} template spec failed: {error}"
                ) from error
            self.cluster.deployments.remember(written)
            return

    # --- scaling ----------------------------------------------------------------------------------

    async def _scale(self, canary: Canary, replicas: int) -> None:
        written = await self.cluster.api.merge_patch(
            DEPLOYMENTS, canary.namespace, canary.target_name, {"spec": {"replicas": replicas}}
        )
        self.cluster.deployments.remember(written)

    async def scale_to_zero(self, canary: Canary) -> None:
        target = self._target(canary)
        if (target.get("spec") or {}).get("replicas") == 0:
            return
        await self._scale(canary, 0)

    async def scale_from_zero(self, canary: Canary) -> None:
        replicas = self._scale_up_replicas(canary)
        try:
            await self._scale(canary, replicas)
        except KubeError as error:
            raise KubeError(f"scaling up {canary.target_key} to {replicas} failed: {error}") from error

    def _scale_up_replicas(self, canary: Canary) -> int:
        """Flagger's rule: target replicas if > 0; else the primary's (no HPA) or the HPA minimum if > 1;
        else 1."""
        target_replicas = (self._target(canary).get("spec") or {}).get("replicas")
        if isinstance(target_replicas, int) and target_replicas > 0:
            return target_replicas
        autoscaler = canary.spec.autoscaler_ref
        if autoscaler is None:
            primary = self.cluster.deployments.get(canary.namespace, primary_name(canary.target_name))
            primary_replicas = ((primary or {}).get("spec") or {}).get("replicas")
            if isinstance(primary_replicas, int) and primary_replicas > 0:
                return primary_replicas
        else:
            hpa = self.cluster.autoscalers.get(canary.namespace, autoscaler.name)
            min_replicas = ((hpa or {}).get("spec") or {}).get("minReplicas")
            if isinstance(min_replicas, int) and min_replicas > 1:
                return min_replicas
        return 1

    # --- autoscaler -------------------------------------------------------------------------------

    async def ensure_primary_autoscaler(self, canary: Canary, target: Target, *, update: bool) -> None:
        ref = canary.spec.autoscaler_ref
        if ref is None or ref.kind not in ("", "HorizontalPodAutoscaler"):
            return
        ns = canary.namespace
        source = self.cluster.autoscalers.get(ns, ref.name)
        if source is None:
            raise KubeError(
                f"HorizontalPodAutoscaler {ref.name}.{ns} get query error: "
                f'horizontalpodautoscalers.autoscaling "{ref.name}" not found'
            )
        overrides = ref.primary_scaler_replicas.to_dict() if ref.primary_scaler_replicas else None
        desired = build_primary_hpa(source, canary.target_name, owner_of(canary), overrides)
        name = primary_hpa_name(ref.name)
        live = self.cluster.autoscalers.get(ns, name)
        try:
            if live is None:
                try:
                    written = await self.cluster.api.create(HPAS, ns, desired)
                except ConflictError:
                    written = await self.cluster.api.get(HPAS, ns, name)
                logger.info(
                    "HorizontalPodAutoscaler v2 %s.%s created", name, ns, extra={"canary": canary.key}
                )
            elif update and (changed := primary_hpa_update(live, desired)) is not None:
                written = await self.cluster.api.replace(HPAS, ns, name, changed)
                logger.info(
                    "HorizontalPodAutoscaler v2 %s.%s updated", name, ns, extra={"canary": canary.key}
                )
            else:
                return
        except KubeError as error:
            raise KubeError(f"HorizontalPodAutoscaler v2 {name}.{ns} reconcile failed: {error}") from error
        self.cluster.autoscalers.remember(written)
