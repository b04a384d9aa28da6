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
from controller.kube.api import CONFIGMAPS, DAEMONSETS, DEPLOYMENTS, HPAS, SCALED_OBJECTS, SECRETS, Resource
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
from controller.kube.derived import DerivedValues
from controller.kube.objects import CanaryOwner, JsonDict, parse_prefixes
from controller.kube.previous import previous_name
from controller.kube.primary import (
    SCALE_TO_ZERO_NODE_SELECTOR,
    build_primary_deployment,
    primary_name,
    promoted_primary,
    without_scale_to_zero,
)
from controller.kube.scaledobjects import (
    build_primary_scaled_object,
    primary_scaled_object_name,
    primary_scaled_object_update,
    with_paused_replicas,
)
from controller.kube.selectors import DEFAULT_SELECTOR_LABELS, SelectorLabel, find_selector_label
from controller.kube.services import discover_ports
from controller.kube.watchcache import WatchCache
from controller.rollout.ports import DaemonSetState, DeploymentState, Revision, Role, Target, WorkloadState
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


def _not_found_message(name: str, namespace: str, word: str = "deployment") -> str:
    return f'{word} {name}.{namespace} get query error: {word}s.apps "{name}" not found'


def _is_daemonset(canary: Canary) -> bool:
    return canary.target_kind == "DaemonSet"


def _plural(kind: ConfigKind) -> str:
    return "configmaps" if kind == "configmap" else "secrets"


def _target_template_hash(target: JsonDict, *, daemonset: bool) -> str:
    template = (target.get("spec") or {}).get("template") or {}
    return template_hash(without_scale_to_zero(template) if daemonset else template)


class KubeWorkloads:
    """Implements `controller.rollout.ports.Workloads`."""

    def __init__(self, cluster: Cluster, options: WorkloadOptions) -> None:
        self.cluster = cluster
        self.options = options
        self._derived = DerivedValues()

    # --- reading ----------------------------------------------------------------------------------

    def _kind(self, canary: Canary) -> tuple[WatchCache, Resource, str]:
        """Cache, resource and Flagger's word for the target's kind (Deployment or DaemonSet)."""
        if _is_daemonset(canary):
            return self.cluster.daemonsets, DAEMONSETS, "daemonset"
        return self.cluster.deployments, DEPLOYMENTS, "deployment"

    def _target(self, canary: Canary) -> JsonDict:
        cache, _, word = self._kind(canary)
        target = cache.get(canary.namespace, canary.target_name)
        if target is None:
            raise TargetError(_not_found_message(canary.target_name, canary.namespace, word))
        return target

    def _label(self, canary: Canary, target: JsonDict) -> SelectorLabel:
        return find_selector_label(target, tuple(self.options.selector_labels), self._kind(canary)[2])

    async def _tracked(self, canary: Canary, target: JsonDict) -> list[tuple[ConfigRef, JsonDict]]:
        """Tracked configs with their objects; a missing mandatory one is an error (as in Flagger)."""
        if not self.options.enable_config_tracking:
            return []
        pod_spec = ((target.get("spec") or {}).get("template") or {}).get("spec") or {}
        tracked: list[tuple[ConfigRef, JsonDict]] = []
        for ref in discover_config_refs(pod_spec):
            cache = self.cluster.configmaps if ref.kind == "configmap" else self.cluster.secrets
            obj = await cache.fetch(canary.namespace, ref.name)
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
        daemonset = _is_daemonset(canary)
        spec_hash = self._derived.value(
            "daemonset" if daemonset else "deployment",
            target,
            lambda obj: _target_template_hash(obj, daemonset=daemonset),
        )
        configs = {
            ref.status_key: self._derived.value(ref.kind, obj, config_checksum)
            for ref, obj in await self._tracked(canary, target)
        }
        return Revision(spec_hash=spec_hash, tracked_configs=configs)

    async def deployment(self, canary: Canary, role: Role) -> WorkloadState:
        cache, _, word = self._kind(canary)
        names = {Role.PRIMARY: primary_name(canary.target_name), Role.PREVIOUS: previous_name(canary)}
        name = names.get(role, canary.target_name)
        obj = cache.get(canary.namespace, name)
        if obj is None:
            raise NotFoundError(_not_found_message(name, canary.namespace, word))
        return DaemonSetState.from_dict(obj) if _is_daemonset(canary) else DeploymentState.from_dict(obj)

    # --- configs ----------------------------------------------------------------------------------

    async def _sync_config_copies(self, canary: Canary, tracked: list[tuple[ConfigRef, JsonDict]]) -> bool:
        """Upsert every `-primary` copy; True when a copy's content changed (the primary must restart)."""
        changed = False
        for ref, source in tracked:
            cache = self.cluster.configmaps if ref.kind == "configmap" else self.cluster.secrets
            resource = CONFIGMAPS if ref.kind == "configmap" else SECRETS
            copy_name = primary_config_name(ref.name)
            existing = await cache.fetch(canary.namespace, copy_name)
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
        cache, resource, word = self._kind(canary)
        name = primary_name(canary.target_name)
        if cache.get(canary.namespace, name) is not None:
            return
        source = self._target(canary)
        strategy = ((source.get("spec") or {}).get("updateStrategy") or {}).get("type")
        if _is_daemonset(canary) and strategy not in (None, "", "RollingUpdate"):
            raise KubeError(
                f"createPrimaryDaemonSet failed: daemonset {canary.target_key} must have RollingUpdate "
                f"strategy but have {strategy}"
            )
        tracked = await self._tracked(canary, source)
        await self._sync_config_copies(canary, tracked)
        body = build_primary_deployment(
            source,
            owner_of(canary),
            SelectorLabel(target.label, target.value),
            include_prefixes=self.options.prefixes,
            selector_labels=tuple(self.options.selector_labels),
            tracked=[ref for ref, _ in tracked],
            kind=canary.target_kind,
        )
        try:
            created = await self.cluster.api.create(resource, canary.namespace, body)
        except ConflictError:
            created = await self.cluster.api.get(resource, canary.namespace, name)
        except KubeError as error:
            raise KubeError(f"creating {word} {name}.{canary.namespace} failed: {error}") from error
        cache.remember(created)
        logger.info("%s %s.%s created", resource.kind, name, canary.namespace, extra={"canary": canary.key})

    async def promote(self, canary: Canary, target: Target) -> None:
        cache, resource, word = self._kind(canary)
        name = primary_name(canary.target_name)
        label = SelectorLabel(target.label, target.value)
        for attempt in range(CONFLICT_RETRIES):
            source = self._target(canary)
            primary = cache.get(canary.namespace, name)
            if primary is None:
                raise KubeError(_not_found_message(name, canary.namespace, word))
            tracked = await self._tracked(canary, source)
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
                kind=canary.target_kind,
            )
            if body == primary:
                return
            try:
                written = await self.cluster.api.replace(resource, canary.namespace, name, body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise KubeError(
                        f"updating {word} {name}.{canary.namespace} template spec failed: conflict"
                    ) from None
                cache.remember(await self.cluster.api.get(resource, canary.namespace, name))
                continue
            except KubeError as error:
                raise KubeError(
                    f"updating {word} {name}.{canary.namespace} template spec failed: {error}"
                ) from error
            cache.remember(written)
            return

    # --- scaling ----------------------------------------------------------------------------------

    async def _scale(self, canary: Canary, replicas: int) -> None:
        written = await self.cluster.api.merge_patch(
            DEPLOYMENTS, canary.namespace, canary.target_name, {"spec": {"replicas": replicas}}
        )
        self.cluster.deployments.remember(written)

    async def _daemonset_scaled_to_zero(self, canary: Canary, *, zero: bool) -> None:
        """Flagger's DaemonSet "scaling": the scale-to-zero nodeSelector added (no node runs its pods) or
        removed, as a merge patch of that one key."""
        node_selector = (
            ((self._target(canary).get("spec") or {}).get("template") or {}).get("spec") or {}
        ).get("nodeSelector") or {}
        if all(
            (node_selector.get(key) == value) == zero for key, value in SCALE_TO_ZERO_NODE_SELECTOR.items()
        ):
            return
        patch = {key: (value if zero else None) for key, value in SCALE_TO_ZERO_NODE_SELECTOR.items()}
        try:
            written = await self.cluster.api.merge_patch(
                DAEMONSETS,
                canary.namespace,
                canary.target_name,
                {"spec": {"template": {"spec": {"nodeSelector": patch}}}},
            )
        except KubeError as error:
            verb = "updating" if zero else "scaling up"
            raise KubeError(f"{verb} daemonset {canary.target_key} failed: {error}") from error
        self.cluster.daemonsets.remember(written)

    async def scale_to_zero(self, canary: Canary) -> None:
        if _is_daemonset(canary):
            await self._daemonset_scaled_to_zero(canary, zero=True)
            return
        await self._pause_target_scaler(canary, paused=True)
        target = self._target(canary)
        if (target.get("spec") or {}).get("replicas") == 0:
            return
        await self._scale(canary, 0)

    async def scale_from_zero(self, canary: Canary) -> None:
        if _is_daemonset(canary):
            await self._daemonset_scaled_to_zero(canary, zero=False)
            return
        await self._pause_target_scaler(canary, paused=False)
        replicas = await self._scale_up_replicas(canary)
        try:
            await self._scale(canary, replicas)
        except KubeError as error:
            raise KubeError(f"scaling up {canary.target_key} to {replicas} failed: {error}") from error

    async def scale_up_replicas(self, canary: Canary) -> int:
        return await self._scale_up_replicas(canary)

    async def scale(self, canary: Canary, replicas: int) -> None:
        try:
            await self._scale(canary, replicas)
        except KubeError as error:
            raise KubeError(f"scaling {canary.target_key} to {replicas} failed: {error}") from error

    async def revert(self, canary: Canary) -> None:
        """Flagger's `DeploymentController.Finalize`: the target gets the primary's replicas back (or is
        scaled from zero when the primary is gone); a DaemonSet is scaled from zero."""
        if _is_daemonset(canary):
            await self.scale_from_zero(canary)
            return
        await self._pause_target_scaler(canary, paused=False)
        primary = self.cluster.deployments.get(canary.namespace, primary_name(canary.target_name))
        if primary is None:
            await self.scale_from_zero(canary)
            return
        replicas = (primary.get("spec") or {}).get("replicas")
        replicas = replicas if isinstance(replicas, int) else 1
        if (self._target(canary).get("spec") or {}).get("replicas") == replicas:
            return
        try:
            await self._scale(canary, replicas)
        except KubeError as error:
            raise KubeError(f"scaling {canary.target_key} to {replicas} failed: {error}") from error

    async def _scale_up_replicas(self, canary: Canary) -> int:
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
        elif autoscaler.kind == "ScaledObject":
            try:
                scaled_object = await self.cluster.api.get(SCALED_OBJECTS, canary.namespace, autoscaler.name)
            except KubeError:
                scaled_object = {}  # as Flagger: an unreadable ScaledObject means the default
            min_replicas = (scaled_object.get("spec") or {}).get("minReplicaCount")
            if isinstance(min_replicas, int) and min_replicas > 1:
                return min_replicas
        else:
            hpa = self.cluster.autoscalers.get(canary.namespace, autoscaler.name)
            min_replicas = ((hpa or {}).get("spec") or {}).get("minReplicas")
            if isinstance(min_replicas, int) and min_replicas > 1:
                return min_replicas
        return 1

    # --- autoscaler -------------------------------------------------------------------------------

    async def ensure_primary_autoscaler(self, canary: Canary, target: Target, *, update: bool) -> None:
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return
        if ref.kind == "ScaledObject":
            await self._ensure_primary_scaled_object(canary, update=update)
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

    # --- KEDA ScaledObject --------------------------------------------------------------------------

    async def _get_scaled_object(self, canary: Canary, name: str) -> JsonDict:
        try:
            return await self.cluster.api.get(SCALED_OBJECTS, canary.namespace, name)
        except KubeError as error:
            raise KubeError(
                f"Keda ScaledObject {name}.{canary.namespace} get query error: {error}"
            ) from error

    async def _ensure_primary_scaled_object(self, canary: Canary, *, update: bool) -> None:
        ref = canary.spec.autoscaler_ref
        assert ref is not None
        ns = canary.namespace
        source = await self._get_scaled_object(canary, ref.name)
        replicas = ref.primary_scaler_replicas.to_dict() if ref.primary_scaler_replicas else None
        desired = build_primary_scaled_object(
            source, canary.target_name, owner_of(canary), ref.primary_scaler_queries, replicas
        )
        name = primary_scaled_object_name(ref.name)
        try:
            live: JsonDict | None = await self.cluster.api.get(SCALED_OBJECTS, ns, name)
        except NotFoundError:
            live = None
        except KubeError as error:
            raise KubeError(f"Keda ScaledObject {name}.{ns} get query failed: {error}") from error
        if live is None:
            try:
                await self.cluster.api.create(SCALED_OBJECTS, ns, desired)
            except ConflictError:
                return
            except KubeError as error:
                raise KubeError(f"creating Keda ScaledObject {name}.{ns} failed: {error}") from error
            logger.info("Keda ScaledObject %s.%s created", name, ns, extra={"canary": canary.key})
            return
        if not update or (changed := primary_scaled_object_update(live, desired)) is None:
            return
        try:
            await self.cluster.api.replace(SCALED_OBJECTS, ns, name, changed)
        except KubeError as error:
            raise KubeError(f"updating ScaledObject {name}.{ns} failed: {error}") from error
        logger.info("Keda ScaledObject %s.%s updated", name, ns, extra={"canary": canary.key})

    async def _pause_target_scaler(self, canary: Canary, *, paused: bool) -> None:
        """Flagger's `PauseTargetScaler`/`ResumeTargetScaler`; nothing to do for an HPA (Flagger's HPA
        reconciler does nothing either)."""
        ref = canary.spec.autoscaler_ref
        if ref is None or ref.kind != "ScaledObject":
            return
        for attempt in range(CONFLICT_RETRIES):
            scaled_object = await self._get_scaled_object(canary, ref.name)
            updated = with_paused_replicas(scaled_object, paused=paused)
            if updated is None:
                return
            try:
                await self.cluster.api.replace(SCALED_OBJECTS, canary.namespace, ref.name, updated)
            except ConflictError:
                if attempt < CONFLICT_RETRIES - 1:
                    continue
                raise KubeError(
                    f"Keda ScaledObject {ref.name}.{canary.namespace} update failed: conflict"
                ) from None
            except KubeError as error:
                raise KubeError(
                    f"Keda ScaledObject {ref.name}.{canary.namespace} update failed: {error}"
                ) from error
            logger.info(
                "Keda ScaledObject %s.%s %s",
                ref.name,
                canary.namespace,
                "paused at 0 replicas" if paused else "resumed",
                extra={"canary": canary.key},
            )
            return
