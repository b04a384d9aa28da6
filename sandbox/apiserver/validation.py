"""Request validation shared by every write: body shapes, names, immutable fields, and the Status errors.

kube-apiserver rejects these before anything is stored; doing the same keeps a malformed object (a label
list, a string spec) from ever reaching the store, where it would break every later list and table.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from .errors import ApiError
from .meta import DNS_LABEL, DNS_SUBDOMAIN, dotted_get, dotted_set
from .registry import ResourceType
from .schema import FieldError
from .schema import invalid as invalid_fields

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


# apimachinery's util/validation messages, word for word (RegexError puts the examples before the regex).
_SUBDOMAIN_FORMAT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    f"start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_SUBDOMAIN_FORMAT}')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Kinds whose names are not DNS subdomains (each kind's ValidateXName in kubernetes/pkg/apis/*/validation).
_LABEL_NAMED = {"Namespace"}
_DNS1035_NAMED = {"Service"}


def _mask_trailing_dash(name: str) -> str:
    """apimachinery's maskTrailingDash: a generateName prefix may end in '-' (it drops two characters)."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_messages(rt: ResourceType, name: str, prefix: bool = False) -> list[str]:
    """Why kube-apiserver refuses a name (a generateName with ``prefix``): one message per broken rule."""
    if rt.group == "rbac.authorization.k8s.io":  # ValidatePathSegmentName: any path segment
        bad = [] if prefix else [f"may not be '{name}'" for dot in (".", "..") if name == dot]
        return bad + [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    value = _mask_trailing_dash(name) if prefix else name
    if rt.kind in _LABEL_NAMED and not rt.custom:
        limit, pattern, message = 63, DNS_LABEL, _LABEL_MESSAGE
    elif rt.kind in _DNS1035_NAMED and not rt.custom:
        limit, pattern, message = 63, _DNS1035_LABEL, _DNS1035_MESSAGE
    else:
        limit, pattern, message = 253, DNS_SUBDOMAIN, _SUBDOMAIN_MESSAGE
    found = [f"must be no more than {limit} characters"] if len(value) > limit else []
    if not pattern.match(value):
        # IsDNS1123Label: a valid subdomain that is no label can only have dots (the length was checked).
        dots = pattern is DNS_LABEL and DNS_SUBDOMAIN.match(value)
        found.append("must not contain dots" if dots else message)
    return found


def object_meta_errors(rt: ResourceType, metadata: dict[str, Any]) -> list[FieldError]:
    """ValidateObjectMeta's name rules, after the name was generated: generateName first, then the name.

    core/v1 Events are exempt (ValidateEventCreate keeps legacy events unvalidated "for backwards
    compatibility"); the same Event written through events.k8s.io/v1 is validated.
    """
    if rt.kind == "Event" and rt.group == "" and rt.view != "events.k8s.io":
        return []
    errors = []
    generate = metadata.get("generateName")
    if generate:
        errors += [
            FieldError("metadata.generateName", "Invalid value", message, generate)
            for message in name_messages(rt, str(generate), prefix=True)
        ]
    name = str(metadata.get("name") or "")
    errors += [
        FieldError("metadata.name", "Invalid value", message, name) for message in name_messages(rt, name)
    ]
    return errors


def check_object_meta(rt: ResourceType, metadata: dict[str, Any]) -> None:
    """The 422 naming every bad field (``Event "a.b" is invalid: metadata.generateName: ...``)."""
    errors = object_meta_errors(rt, metadata)
    if errors:
        # An events.k8s.io Event is validated as the internal core Event: its errors name no group.
        group = "" if rt.view == "events.k8s.io" else rt.group
        raise invalid_fields(rt.kind, str(metadata.get("name") or ""), errors, group)


def _compact(value: Any) -> str:
    """How kube-apiserver prints a typed value in a field error: compact JSON."""
    return json.dumps(value, separators=(",", ":"))


def selector_errors(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """Workload controllers' ``selector`` must match the pod template's labels (ValidateXSpec)."""
    if rt.custom or rt.kind not in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        return []
    match = dotted_get(obj, "spec.selector.matchLabels")
    labels = dotted_get(obj, "spec.template.metadata.labels")
    if not isinstance(match, dict) or not match:
        return []
    labels = labels if isinstance(labels, dict) else {}
    if all(labels.get(k) == v for k, v in match.items()):
        return []
    detail = f"{_compact(labels)}: `selector` does not match template `labels`"
    return [FieldError("spec.template.metadata.labels", "Invalid value", detail)]


def immutable_errors(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """The immutable fields controllers trip over, with kube-apiserver's field paths and wording."""
    errors: list[FieldError] = []
    if rt.custom:
        return errors
    if rt.kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        for path in ("data", "binaryData", "immutable"):
            if old.get(path) != new.get(path):
                errors.append(FieldError(path, "Forbidden", "field is immutable when `immutable` is set"))
        return errors
    for path in IMMUTABLE_FIELDS.get(rt.kind, ()):
        before, after = dotted_get(old, path), dotted_get(new, path)
        if path == "spec.clusterIP":
            if before in (None, ""):
                continue  # not allocated yet: the sandbox runtime assigns it after create
            if after in (None, ""):
                dotted_set(new, path, before)  # an update that omits it keeps the allocation
                continue
            if before != after:  # ValidateServiceUpdate checks the clusterIPs list
                detail = f"{_compact([after])}: may not change once set"
                errors.append(FieldError("spec.clusterIPs[0]", "Invalid value", detail))
            continue
        if before != after:
            errors.append(FieldError(path, "Invalid value", f"{_compact(after)}: field is immutable"))
    return errors


def check_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Update validation: the template's labels first, then the immutable fields (kube-apiserver's order)."""
    errors = selector_errors(rt, new) + immutable_errors(rt, old, new)
    if errors:
        raise invalid_fields(rt.kind, old["metadata"]["name"], errors, rt.group)


def check_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    errors = selector_errors(rt, obj)
    if errors:
        raise invalid_fields(rt.kind, str(obj.get("metadata", {}).get("name", "")), errors, rt.group)


LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128)"


def _is_loopback(address: Any) -> bool:
    try:
        return isinstance(address, str) and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def loopback_errors(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """kube-apiserver's refusal of loopback addresses in EndpointSlices and v1 Endpoints."""
    errors = []
    if rt.kind == "EndpointSlice":
        for i, endpoint in enumerate(obj.get("endpoints") or []):
            for j, address in enumerate((endpoint or {}).get("addresses") or []):
                if _is_loopback(address):
                    errors.append(
                        FieldError(f"endpoints[{i}].addresses[{j}]", "Invalid value", LOOPBACK, address)
                    )
    elif rt.kind == "Endpoints" and rt.group == "":
        for i, subset in enumerate(obj.get("subsets") or []):
            for kind in ("addresses", "notReadyAddresses"):
                for j, address in enumerate((subset or {}).get(kind) or []):
                    ip = (address or {}).get("ip")
                    if _is_loopback(ip):
                        errors.append(
                            FieldError(f"subsets[{i}].{kind}[{j}].ip", "Invalid value", LOOPBACK, ip)
                        )
    return errors


def check_loopback(rt: ResourceType, obj: dict[str, Any]) -> None:
    errors = loopback_errors(rt, obj)
    if errors:
        raise invalid_fields(rt.kind, str(obj.get("metadata", {}).get("name", "")), errors, rt.group)
