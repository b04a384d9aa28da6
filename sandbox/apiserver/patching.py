"""PATCH: merge, JSON and strategic merge patches, and server-side apply, on objects and subresources.

The pure work lives in patches.py and fieldmanager.py; this module picks the patch type from the
Content-Type, applies it to the object as the client sees it, and hands the result to Cluster.update
or Cluster.create (apply creates absent objects), so every write path shares the same admission.
"""

from __future__ import annotations

from typing import Any

from . import patches
from .cluster import Cluster, WriteOptions
from .errors import ApiError
from .fieldmanager import server_side_apply
from .patches import clone_json
from .registry import ResourceType
from .validation import conflict, not_found

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def apply_patch(rt: ResourceType, current: dict[str, Any], patch_type: str, body: Any) -> dict[str, Any]:
    """The object after a merge, JSON or strategic merge patch (the pure work is in patches.py)."""
    if patch_type == MERGE_PATCH:
        if not isinstance(body, dict):
            raise ApiError(
                400,
                "BadRequest",
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            )
        return patches.merge_patch(current, body)
    if patch_type == JSON_PATCH:
        return patches.json_patch(current, body)
    if patch_type == STRATEGIC_PATCH:
        if rt.custom:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        return patches.strategic_merge_patch(
            current, body, current.get("apiVersion", rt.api_version), rt.kind
        )
    raise ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(PATCH_TYPES),
    )


def patch_object(
    cluster: Cluster,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    patch_type: str,
    body: Any,
    options: WriteOptions,
    subresource: str = "",
) -> tuple[dict[str, Any], bool]:
    """PATCH on an object or its status/scale subresource; returns (result, created)."""
    if patch_type == APPLY_PATCH:
        return apply_object(cluster, rt, namespace, name, body, options, subresource)
    current = cluster.get(rt, namespace, name)
    if subresource == "scale":
        # Scale has no merge-keyed lists: a strategic merge patch is a merge patch there.
        scale_patch_type = MERGE_PATCH if patch_type == STRATEGIC_PATCH else patch_type
        scale = apply_patch(rt, cluster.scale_of(rt, current), scale_patch_type, body)
        updated = cluster.apply_scale(rt, namespace, name, scale, options)
        return cluster.scale_of(rt, updated), False
    shown = cluster.present(rt, current)
    patched = apply_patch(rt, shown, patch_type, body)
    if not isinstance(patched, dict):
        raise ApiError(422, "Invalid", "the patched object is not a JSON object")
    return cluster.update(rt, namespace, name, patched, options, subresource=subresource), False


def apply_object(
    cluster: Cluster,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    body: Any,
    options: WriteOptions,
    subresource: str = "",
) -> tuple[dict[str, Any], bool]:
    """Server-side apply: create if absent, otherwise merge with field ownership (fieldmanager.py)."""
    if not options.manager_given or not options.manager:
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: '
            "fieldManager: Required value: is required for apply patch",
            {
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                ],
            },
        )
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "error decoding YAML: the applied configuration must be an object")
    cluster._check_kind(rt, body)
    body_name = (body.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
    current = cluster.find(rt, namespace, name)
    applied = clone_json(body)
    applied.setdefault("metadata", {})["name"] = name
    if rt.namespaced and namespace:
        applied["metadata"].setdefault("namespace", namespace)
    if current is None:
        if subresource:
            raise not_found(rt, name)
        created = server_side_apply(None, applied, options.manager, options.force)
        return cluster.create(rt, namespace, created, options, operation="Apply"), True
    merged = server_side_apply(
        clone_json(cluster.present(rt, current)), applied, options.manager, options.force
    )
    merged.setdefault("metadata", {})["resourceVersion"] = current["metadata"].get("resourceVersion")
    applied_rv = (body.get("metadata") or {}).get("resourceVersion")
    if applied_rv and applied_rv != current["metadata"].get("resourceVersion"):
        raise conflict(rt, name)
    result = cluster.update(rt, namespace, name, merged, options, subresource=subresource, operation="Apply")
    return result, False
