"""CustomResourceDefinitions: turning a CRD object into served resource types, and its status."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .meta import rfc3339
from .registry import PrinterColumn, ResourceType, ScalePaths
from .schema import StructuralSchema


def _schema_for(version: dict[str, Any]) -> StructuralSchema | None:
    openapi = (version.get("schema") or {}).get("openAPIV3Schema")
    return StructuralSchema(openapi) if openapi else None


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of the CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    kind = names.get("kind", "")
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        columns = tuple(
            PrinterColumn(
                name=c.get("name", ""),
                type=c.get("type", "string"),
                json_path=c.get("jsonPath", ""),
                description=c.get("description", ""),
                priority=int(c.get("priority", 0)),
                format=c.get("format", ""),
            )
            for c in version.get("additionalPrinterColumns") or []
        )
        types.append(
            ResourceType(
                group=group,
                version=version.get("name", ""),
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=ScalePaths(
                    spec_replicas=scale.get("specReplicasPath", ".spec.replicas"),
                    status_replicas=scale.get("statusReplicasPath", ".status.replicas"),
                    label_selector=scale.get("labelSelectorPath") or "",
                )
                if isinstance(scale, dict)
                else None,
                has_generation=True,
                printer_columns=columns,
                custom=True,
                schema=_schema_for(version),
                selectable_fields=tuple(
                    f.get("jsonPath", "").lstrip(".") for f in version.get("selectableFields") or []
                ),
            )
        )
    return types


# The schema formats kube-apiserver knows (apiextensions' supported formats); others draw a warning.
KNOWN_FORMATS = frozenset(
    {
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
    }
    | {"isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date"}
    | {"duration", "datetime", "date-time"}
)


def _formats(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        value = node.get("format")
        if isinstance(value, str) and value:
            found.append(value)
        for child in node.values():
            found += _formats(child)
    elif isinstance(node, list):
        for child in node:
            found += _formats(child)
    return found


def format_warnings(crd: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """``unrecognized format "url"``: what kube-apiserver warns for unknown formats a write introduces."""
    versions = (crd.get("spec") or {}).get("versions") or []
    before = set(_formats(((old or {}).get("spec") or {}).get("versions") or []))
    unknown = [f for f in _formats(versions) if f not in KNOWN_FORMATS and f not in before]
    return [f'unrecognized format "{f}"' for f in dict.fromkeys(unknown)]


def validate(crd: dict[str, Any]) -> None:
    """The few checks that stop a broken CRD from being registered (422 like kube-apiserver)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = crd.get("metadata", {}).get("name", "")
    causes = []
    if not spec.get("group"):
        causes.append(("spec.group", "Required value"))
    if not names.get("plural"):
        causes.append(("spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(("spec.names.kind", "Required value"))
    if not spec.get("versions"):
        causes.append(("spec.versions", "Required value"))
    if not causes and name != f"{names['plural']}.{spec['group']}":
        causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if causes:
        message = "; ".join(f"{field}: {detail}" for field, detail in causes)
        raise ApiError(
            422,
            "Invalid",
            f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {message}',
            {
                "name": name,
                "group": "apiextensions.k8s.io",
                "kind": "CustomResourceDefinition",
                "causes": [{"reason": "FieldValueInvalid", "message": d, "field": f} for f, d in causes],
            },
        )


def established_status(crd: dict[str, Any]) -> dict[str, Any]:
    """What the apiextensions controllers write once a CRD is served."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    moment = rfc3339()
    condition = {"status": "True", "lastTransitionTime": moment}
    return {
        "acceptedNames": names,
        "conditions": [
            {**condition, "type": "NamesAccepted", "reason": "NoConflicts", "message": "no conflicts found"},
            {
                **condition,
                "type": "Established",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": [v.get("name") for v in spec.get("versions") or [] if v.get("storage")],
    }
