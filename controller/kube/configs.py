"""Tracked ConfigMaps and Secrets (spec 1.4): discovery, checksums, `-primary` copies, reference rewrite.

The primary pods must not change when someone edits the canary's ConfigMap mid-analysis, so every config
the target references is copied to `<name>-primary` at promotion and the primary pod spec points at the
copies. The checksums in `status.trackedConfigs` are how a config edit counts as a new revision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from controller.kube.objects import (
    PRIMARY_SUFFIX,
    CanaryOwner,
    JsonDict,
    deep_copy,
    filter_by_prefixes,
    owner_reference,
)

ConfigKind = Literal["configmap", "secret"]

TRACKING_ANNOTATION = "flagger.app/config-tracking"
TRACKED_SECRET_TYPES = frozenset(
    {"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"}
)


@dataclass(frozen=True)
class ConfigRef:
    """One referenced config. `optional` only when every reference to it says `optional: true`."""

    kind: ConfigKind
    name: str
    optional: bool = False

    @property
    def status_key(self) -> str:
        """The key in `status.trackedConfigs`: `configmap/<name>` or `secret/<name>`."""
        return f"{self.kind}/{self.name}"


def _containers(pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]


def discover_config_refs(pod_spec: Mapping[str, Any]) -> list[ConfigRef]:
    """Every ConfigMap/Secret the pod spec references, in first-seen order (ephemeral containers and
    imagePullSecrets are not scanned, as in Flagger)."""
    found: dict[tuple[ConfigKind, str], bool] = {}

    def add(kind: ConfigKind, name: Any, optional: Any) -> None:
        if not name:
            return
        key = (kind, str(name))
        is_optional = bool(optional)
        found[key] = found.get(key, True) and is_optional

    for volume in pod_spec.get("volumes") or []:
        if config_map := volume.get("configMap"):
            add("configmap", config_map.get("name"), config_map.get("optional"))
        if secret := volume.get("secret"):
            add("secret", secret.get("secretName"), secret.get("optional"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if config_map := source.get("configMap"):
                add("configmap", config_map.get("name"), config_map.get("optional"))
            if secret := source.get("secret"):
                add("secret", secret.get("name"), secret.get("optional"))
    for container in _containers(pod_spec):
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if key_ref := value_from.get("configMapKeyRef"):
                add("configmap", key_ref.get("name"), key_ref.get("optional"))
            if key_ref := value_from.get("secretKeyRef"):
                add("secret", key_ref.get("name"), key_ref.get("optional"))
        for env_from in container.get("envFrom") or []:
            if ref := env_from.get("configMapRef"):
                add("configmap", ref.get("name"), ref.get("optional"))
            if ref := env_from.get("secretRef"):
                add("secret", ref.get("name"), ref.get("optional"))
    return [ConfigRef(kind=kind, name=name, optional=optional) for (kind, name), optional in found.items()]


def exclusion_reason(kind: ConfigKind, obj: Mapping[str, Any]) -> str | None:
    """Why a referenced object is not tracked (None = tracked): the opt-out annotation, or a Secret type
    Flagger does not copy (docker registry secrets and the like)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(TRACKING_ANNOTATION, "")).startswith("disable"):
        return f"{TRACKING_ANNOTATION} annotation disables tracking"
    if kind == "secret":
        secret_type = obj.get("type") or "Opaque"
        if secret_type not in TRACKED_SECRET_TYPES:
            return f"secret type {secret_type} is not tracked"
    return None


def go_json_dumps(value: Any) -> str:
    """`encoding/json.Marshal` output for plain JSON values: sorted keys, compact, HTML-safe escapes."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def config_checksum(obj: Mapping[str, Any]) -> str:
    """SHA-256 of the Go JSON of `data` (binaryData ignored), first 8 bytes in hex, as Flagger computes it."""
    data = obj.get("data") or {}
    digest = hashlib.sha256(go_json_dumps(data).encode("utf-8")).digest()
    return digest[:8].hex()


def primary_config_name(name: str) -> str:
    return f"{name}{PRIMARY_SUFFIX}"


def primary_config_copy(
    kind: ConfigKind,
    source: Mapping[str, Any],
    canary: CanaryOwner,
    include_prefixes: Sequence[str],
    existing_copy: Mapping[str, Any] | None = None,
) -> JsonDict:
    """The `<name>-primary` copy: filtered labels, no annotations, data (ConfigMap) or type + data (Secret).

    Owner references: this Canary as controller, plus owners of the existing copy that are other objects
    (re-added as non-controller) so two Canaries sharing one ConfigMap both keep the copy alive.
    """
    source_meta = source.get("metadata") or {}
    owners = [owner_reference(canary)]
    for ref in ((existing_copy or {}).get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("uid") != canary.uid:
            owners.append({**deep_copy(ref), "controller": False})
    copy_meta: JsonDict = {
        "name": primary_config_name(str(source_meta.get("name", ""))),
        "namespace": source_meta.get("namespace", canary.namespace),
        "labels": filter_by_prefixes(source_meta.get("labels"), include_prefixes),
        "ownerReferences": owners,
    }
    if kind == "configmap":
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": copy_meta,
            "data": deep_copy(source.get("data") or {}),
        }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": copy_meta,
        "type": source.get("type") or "Opaque",
        "data": deep_copy(source.get("data") or {}),
    }


def rename_config_refs(pod_spec: Mapping[str, Any], tracked: Iterable[ConfigRef]) -> JsonDict:
    """A copy of the pod spec whose references to tracked configs point at the `-primary` copies."""
    tracked_keys = {(ref.kind, ref.name) for ref in tracked}
    spec: JsonDict = deep_copy(dict(pod_spec))

    def renamed(kind: ConfigKind, holder: JsonDict, field: str) -> None:
        name = holder.get(field)
        if name and (kind, name) in tracked_keys:
            holder[field] = primary_config_name(str(name))

    for volume in spec.get("volumes") or []:
        if volume.get("configMap"):
            renamed("configmap", volume["configMap"], "name")
        if volume.get("secret"):
            renamed("secret", volume["secret"], "secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("configMap"):
                renamed("configmap", source["configMap"], "name")
            if source.get("secret"):
                renamed("secret", source["secret"], "name")
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if value_from.get("configMapKeyRef"):
                renamed("configmap", value_from["configMapKeyRef"], "name")
            if value_from.get("secretKeyRef"):
                renamed("secret", value_from["secretKeyRef"], "name")
        for env_from in container.get("envFrom") or []:
            if env_from.get("configMapRef"):
                renamed("configmap", env_from["configMapRef"], "name")
            if env_from.get("secretRef"):
                renamed("secret", env_from["secretRef"], "name")
    return spec
