"""Request validation shared by every write: body shapes, names, immutable fields, and the Status errors.

kube-apiserver rejects these before anything is stored; doing the same keeps a malformed object (a label
list, a string spec) from ever reaching the store, where it would break every later list and table.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .meta import DNS_SUBDOMAIN, dotted_get, dotted_set
from .registry import ResourceType

# Fields kube-apiserver refuses to change after create (the ones controllers run into).
IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName"),
    "DaemonSet": ("spec.selector",),
    "Job": ("spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
}


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{rt.group_resource} "{name}" not found',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def invalid(
    rt: ResourceType, name: str, field_path: str, detail: str, reason: str = "FieldValueInvalid"
) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{rt.qualified_kind} "{name}" is invalid: {field_path}: {detail}',
        {
            "name": name,
            "group": rt.group,
            "kind": rt.kind,
            "causes": [{"reason": reason, "message": detail, "field": field_path}],
        },
    )


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "null"


def _decode_error(rt: ResourceType, field_path: str, value: Any, go_type: str) -> ApiError:
    """The 400 kube-apiserver answers when a body does not decode into the Go type."""
    return ApiError(
        400,
        "BadRequest",
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot unmarshal '
        f"{_go_type(value)} into Go struct field {field_path} of type {go_type}",
    )


def check_shape(rt: ResourceType, body: dict[str, Any]) -> None:
    """Reject bodies whose metadata (and, for built-ins, spec/status) cannot be what the API types say.

    Without this a label list or a string spec would be stored and break every later list and table.
    """
    metadata = body.get("metadata")
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise _decode_error(rt, f"{rt.kind}.metadata", metadata, "v1.ObjectMeta")
    for name in ("labels", "annotations"):
        value = metadata.get(name)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            bad = (
                value
                if not isinstance(value, dict)
                else next(v for v in value.values() if not isinstance(v, str))
            )
            raise _decode_error(rt, f"{rt.kind}.metadata.{name}", bad, "map[string]string")
    finalizers = metadata.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise _decode_error(rt, f"{rt.kind}.metadata.finalizers", finalizers, "[]string")
    owners = metadata.get("ownerReferences")
    if owners is not None and (not isinstance(owners, list) or not all(isinstance(o, dict) for o in owners)):
        raise _decode_error(rt, f"{rt.kind}.metadata.ownerReferences", owners, "[]v1.OwnerReference")
    for name in ("name", "namespace", "generateName"):
        value = metadata.get(name)
        if value is not None and not isinstance(value, str):
            raise _decode_error(rt, f"{rt.kind}.metadata.{name}", value, "string")
    if not rt.custom:
        for name in ("spec", "status"):
            value = body.get(name)
            if value is not None and not isinstance(value, dict):
                raise _decode_error(rt, f"{rt.kind}.{name}", value, f"v1.{rt.kind}{name.capitalize()}")


def name_problem(rt: ResourceType, name: str) -> str:
    """Why kube-apiserver would refuse this name, or "" (RBAC kinds allow any path segment)."""
    if rt.group == "rbac.authorization.k8s.io":
        if name in (".", "..") or "/" in name or "%" in name:
            return "may not be '.' or '..' and may not contain '/' or '%'"
        return ""
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return ""


def check_immutable(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """The immutable fields controllers trip over (422 "field is immutable", as kube-apiserver)."""
    if rt.custom:
        return
    name = old["metadata"]["name"]
    paths = IMMUTABLE_FIELDS.get(rt.kind, ())
    if rt.kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        paths = ("data", "binaryData", "immutable")
    for path in paths:
        before, after = dotted_get(old, path), dotted_get(new, path)
        if path == "spec.clusterIP":
            if before in (None, ""):
                continue  # not allocated yet: the sandbox runtime assigns it after create
            if after in (None, ""):
                dotted_set(new, path, before)  # an update that omits it keeps the allocation
                continue
        if before != after:
            raise invalid(rt, name, path, f"Invalid value: {json.dumps(after)}: field is immutable")
