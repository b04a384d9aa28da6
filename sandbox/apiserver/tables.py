"""``meta.k8s.io/v1 Table`` responses for ``kubectl get``.

Generic resources get Name + Age; CRDs their ``additionalPrinterColumns`` (Name + Age only when they declare
none, as kube-apiserver); a few built-ins the columns kube-apiserver gives them (namespaces, pods, configmaps,
deployments, services, events).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .meta import age, human_duration, json_path, now, parse_time, selector_string
from .registry import PrinterColumn, ResourceType

Row = Callable[[dict[str, Any]], list[Any]]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _column(
    name: str, type_: str = "string", description: str = "", priority: int = 0, format_: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


NAME = _column("Name", format_="name", description="Name must be unique within a namespace.")
AGE = _column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _pod_row(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    phase = status.get("phase", "Pending")
    if obj["metadata"].get("deletionTimestamp"):
        phase = "Terminating"
    else:
        for s in statuses:
            waiting = (s.get("state") or {}).get("waiting")
            terminated = (s.get("state") or {}).get("terminated")
            if waiting and waiting.get("reason"):
                phase = waiting["reason"]
            elif terminated and terminated.get("reason") and phase not in ("Succeeded", "Failed"):
                phase = terminated["reason"]
            elif terminated and terminated.get("reason") == "Completed":
                phase = "Completed"
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(containers)}",
        phase,
        restarts,
        age(obj),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


def _readiness_gates(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """kubectl's READINESS GATES: how many of the pod's gates have a True condition."""
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or [] if isinstance(g, dict)]
    if not gates:
        return "<none>"
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g in true)}/{len(gates)}"


def _configmap_row(obj: dict[str, Any]) -> list[Any]:
    return [obj["metadata"]["name"], len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj)]


def _deployment_row(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(obj),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        selector_string(spec.get("selector")),
    ]


def _service_row(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    )
    return [
        obj["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ports or "<none>",
        age(obj),
    ]


def _namespace_row(obj: dict[str, Any]) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", "Active"), age(obj)]


def _event_row(obj: dict[str, Any]) -> list[Any]:
    last = obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    moment = parse_time(last or "")
    seen = human_duration((now() - moment).total_seconds()) if moment else "<unknown>"
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    return [
        seen,
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message") or obj.get("note", ""),
    ]


BUILTIN_COLUMNS: dict[str, tuple[list[dict[str, Any]], Row]] = {
    "Namespace": ([NAME, _column("Status"), AGE], _namespace_row),
    "Pod": (
        [
            NAME,
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "string"),
            AGE,
            _column("IP", priority=1),
            _column("Node", priority=1),
            _column("Nominated Node", priority=1),
            _column("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    "ConfigMap": ([NAME, _column("Data", "integer"), AGE], _configmap_row),
    "Deployment": (
        [
            NAME,
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            AGE,
            _column("Containers", priority=1),
            _column("Images", priority=1),
            _column("Selector", priority=1),
        ],
        _deployment_row,
    ),
    "Service": (
        [NAME, _column("Type"), _column("Cluster-IP"), _column("External-IP"), _column("Port(s)"), AGE],
        _service_row,
    ),
    "Event": (
        [_column("Last Seen"), _column("Type"), _column("Reason"), _column("Object"), _column("Message")],
        _event_row,
    ),
}


def _cell(obj: dict[str, Any], column: PrinterColumn) -> Any:
    value = json_path(obj, column.json_path)
    if value is None:
        return None
    if column.type == "date":
        moment = parse_time(str(value))
        return human_duration((now() - moment).total_seconds()) if moment else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


def columns_and_row(rt: ResourceType) -> tuple[list[dict[str, Any]], Row]:
    if rt.custom:
        custom = list(rt.printer_columns)
        if not custom:  # kube-apiserver adds Age only to a CRD that declares no printer columns
            return [NAME, AGE], lambda obj: [obj["metadata"]["name"], age(obj)]
        definitions = [NAME] + [_column(c.name, c.type, c.description, c.priority, c.format) for c in custom]

        def custom_row(obj: dict[str, Any]) -> list[Any]:
            return [obj["metadata"]["name"]] + [_cell(obj, c) for c in custom]

        return definitions, custom_row
    if rt.kind in BUILTIN_COLUMNS and not rt.view:
        return BUILTIN_COLUMNS[rt.kind]
    return [NAME, AGE], lambda obj: [obj["metadata"]["name"], age(obj)]


def partial_metadata(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}


def include_object(obj: dict[str, Any], mode: str) -> dict[str, Any] | None:
    if mode == "None":
        return None
    if mode == "Object":
        return obj
    return partial_metadata(obj, obj.get("apiVersion", ""))


def table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    continue_token: str = "",
    include: str = "Metadata",
    with_columns: bool = True,
) -> dict[str, Any]:
    definitions, row = columns_and_row(rt)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    result: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    result["columnDefinitions"] = definitions if with_columns else None
    rows = []
    for obj in objects:
        try:
            cells = row(obj)
        except (AttributeError, TypeError, ValueError, KeyError):
            # A malformed stored object (status written by a buggy client) must not break the listing.
            cells = [obj.get("metadata", {}).get("name", "")] + ["<invalid>"] * (len(definitions) - 1)
        entry: dict[str, Any] = {"cells": cells}
        included = include_object(obj, include)
        if included is not None:
            entry["object"] = included
        rows.append(entry)
    result["rows"] = rows
    return result
