"""What a client reads from an answer, and where two answers differ in it.

Compared, in this order (a different status code ends the comparison):
- the status code;
- errors (a ``Status``): ``reason`` and the set of ``details.causes`` (reason, field); the message is compared
  too but reported apart ("error message"), since no client branches on its wording;
- Tables: the column names and the rows' names;
- lists: which items are there (names, namespaces), limited to what the session itself made;
- objects: kind, name (for ``generateName``, the prefix and the suffix's length), labels, annotations,
  finalizers, owner references, generation, managed-field managers, every field outside metadata and
  status (so defaults are compared), and ``status`` where clients write it (custom resources, ``/status``);
- the ``Warning`` headers.
Values each server picks for itself (uid, resourceVersion, timestamps, allocated IPs) are not compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .corpus import Recorded, target_of

# Fields outside metadata that each server allocates on its own.
ALLOCATED_PATHS = {
    ("spec", "clusterIP"),
    ("spec", "clusterIPs"),
    ("spec", "ipFamilies"),
    ("spec", "ipFamilyPolicy"),
    ("spec", "ports", "[]", "nodePort"),
    ("spec", "nodeName"),
}
# Writers that are controllers, not clients: the emulator has no controller-manager (see bench/README.md).
CONTROLLER_MANAGERS = ("kube-controller-manager", "kube-scheduler", "kubelet")
# Annotations controllers write at their own pace.
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/",)
_WARNING = re.compile(r'^\d{3} \S+ "(.*)"$')


@dataclass(frozen=True)
class Difference:
    kind: str
    detail: str


def is_custom(api_version: str) -> bool:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return "." in group and not group.endswith(".k8s.io")


def warnings(values: list[str]) -> list[str]:
    out = []
    for value in values:
        match = _WARNING.match(value)
        out.append(match.group(1).replace('\\"', '"') if match else value)
    return sorted(set(out))


@dataclass
class Scope:
    """What a session made itself: list items outside it (other sessions, the cluster's own) are ignored."""

    namespaces: set[str]
    cluster_names: set[str]
    made: set[str] = field(default_factory=set)  # names of everything the session's own requests made

    def holds(self, item: dict[str, Any]) -> bool:
        meta = item.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        if (
            any(o.get("controller") for o in owners if isinstance(o, dict))
            and meta.get("name") not in self.made
        ):
            return False  # a controller made it (a ReplicaSet of a Deployment); the emulator runs none
        namespace = meta.get("namespace")
        if namespace:
            return str(namespace) in self.namespaces
        name = str(meta.get("name", ""))
        if item.get("kind") == "Namespace" or meta.get("selfLink", "").endswith(f"/namespaces/{name}"):
            return name in self.namespaces
        return name in self.cluster_names or name in self.namespaces


def compare(
    request: Recorded,
    real_status: int,
    real: Any,
    real_warnings: list[str],
    back: Callable[[Any], Any],
    emu_scope: Scope,
    real_scope: Scope,
) -> list[Difference]:
    """The differences a client would see; ``back`` maps real-server values to the emulator's."""
    emulator = request.response
    if request.status != real_status:
        detail = f"{request.method} {_resource(request)}: {request.status} vs real {real_status}"
        if isinstance(real, dict) and real.get("kind") == "Status":
            detail += f" ({back(real.get('message', ''))})"
        return [Difference("status code", detail)]
    real = back(_within(real, real_scope))
    emulator = _within(emulator, emu_scope)
    found: list[Difference] = []
    if isinstance(emulator, dict) and isinstance(real, dict):
        found += _compare_bodies(request, emulator, real)
    emu_warn, real_warn = warnings(request.warnings), [back(w) for w in warnings(real_warnings)]
    if emu_warn != sorted(set(real_warn)):
        found.append(
            Difference("warnings", f"{_resource(request)}: {emu_warn} vs real {sorted(set(real_warn))}")
        )
    return found


def _resource(request: Recorded) -> str:
    target = target_of(request.path)
    if target is None:
        return request.path
    sub = f"/{target.subresource}" if target.subresource else ""
    return f"{target.resource}{sub}"


def _within(body: Any, scope: Scope) -> Any:
    """A list or Table without the items and rows outside the session (other sessions', the cluster's own)."""
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("items"), list):
        kind = str(body.get("kind", "")).removesuffix("List")
        items = [
            item for item in body["items"] if isinstance(item, dict) and scope.holds({"kind": kind, **item})
        ]
        return {**body, "items": items}
    if body.get("kind") == "Table" and isinstance(body.get("rows"), list):
        rows = [
            row
            for row in body["rows"]
            if not (isinstance(row, dict) and isinstance(row.get("object"), dict))
            or not row["object"].get("metadata")
            or scope.holds(row["object"])
        ]
        return {**body, "rows": rows}
    return body


def _compare_bodies(request: Recorded, emulator: dict[str, Any], real: dict[str, Any]) -> list[Difference]:
    where = f"{request.method} {_resource(request)}"
    emu_kind, real_kind = emulator.get("kind"), real.get("kind")
    if emu_kind != real_kind:
        return [Difference("answer kind", f"{where}: {emu_kind} vs real {real_kind}")]
    if emu_kind == "Status":
        return _compare_status(where, emulator, real)
    if emu_kind == "Table":
        return _compare_table(where, emulator, real)
    if emu_kind == "APIResourceList":
        return _compare_discovery(where, emulator, real)
    if request.path.startswith("/openapi") or emu_kind in (
        "APIGroupDiscoveryList",
        "APIGroupList",
        "APIVersions",
    ):
        return []
    if isinstance(emulator.get("items"), list) and isinstance(real.get("items"), list):
        return _compare_list(where, emulator, real)
    if isinstance(emulator.get("metadata"), dict) and isinstance(real.get("metadata"), dict):
        return _compare_object(request, where, emulator, real)
    return []


def _compare_status(where: str, emulator: dict[str, Any], real: dict[str, Any]) -> list[Difference]:
    found = []
    if emulator.get("reason") != real.get("reason"):
        found.append(
            Difference("error reason", f"{where}: {emulator.get('reason')} vs real {real.get('reason')}")
        )
    emu_causes, real_causes = _causes(emulator), _causes(real)
    if emu_causes != real_causes:
        found.append(Difference("error causes", f"{where}: {emu_causes} vs real {real_causes}"))
    emu_message = str(emulator.get("message") or "")
    emu_name = str((emulator.get("details") or {}).get("name", ""))
    real_name = str((real.get("details") or {}).get("name", ""))
    if emu_name and real_name and emu_name != real_name and emu_name[:-5] == real_name[:-5]:
        emu_message = emu_message.replace(emu_name, real_name)  # generateName's random suffixes
    if emu_message != str(real.get("message") or ""):
        found.append(
            Difference(
                "error message", f"{where}: {emulator.get('message')!r} vs real {real.get('message')!r}"
            )
        )
    return found


def _causes(status: dict[str, Any]) -> list[tuple[str, str]]:
    causes = (status.get("details") or {}).get("causes") or []
    return sorted(
        {(str(c.get("reason", "")), str(c.get("field", ""))) for c in causes if isinstance(c, dict)}
    )


def _compare_table(where: str, emulator: dict[str, Any], real: dict[str, Any]) -> list[Difference]:
    found = []
    emu_columns = [c.get("name") for c in emulator.get("columnDefinitions") or []]
    real_columns = [c.get("name") for c in real.get("columnDefinitions") or []]
    if emu_columns != real_columns:
        found.append(Difference("table columns", f"{where}: {emu_columns} vs real {real_columns}"))

    def names(table: dict[str, Any]) -> list[str]:
        rows = []
        for row in table.get("rows") or []:
            cells = row.get("cells") or [""]
            rows.append(str(cells[0]))
        return sorted(rows)

    if names(emulator) != names(real):
        found.append(Difference("table rows", f"{where}: {names(emulator)} vs real {names(real)}"))
    return found


def _compare_discovery(where: str, emulator: dict[str, Any], real: dict[str, Any]) -> list[Difference]:
    real_resources = {r.get("name"): r for r in real.get("resources") or []}
    found = []
    for resource in emulator.get("resources") or []:
        name = resource.get("name")
        other = real_resources.get(name)
        if other is None:
            found.append(Difference("discovery", f"{where}: {name} not served by the real server"))
            continue
        for key in ("kind", "namespaced"):
            if resource.get(key) != other.get(key):
                found.append(
                    Difference("discovery", f"{where}: {name}.{key} {resource.get(key)} vs {other.get(key)}")
                )
        if sorted(resource.get("verbs") or []) != sorted(other.get("verbs") or []):
            found.append(
                Difference(
                    "discovery", f"{where}: {name} verbs {resource.get('verbs')} vs real {other.get('verbs')}"
                )
            )
    return found


def _compare_list(where: str, emulator: dict[str, Any], real: dict[str, Any]) -> list[Difference]:
    def identities(listing: dict[str, Any]) -> list[str]:
        out = []
        for item in listing.get("items") or []:
            if not isinstance(item, dict):
                continue
            meta = item.get("metadata") or {}
            out.append(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
        return sorted(out)

    emu_items, real_items = identities(emulator), identities(real)
    if emu_items != real_items:
        only_emu = sorted(set(emu_items) - set(real_items))
        only_real = sorted(set(real_items) - set(emu_items))
        return [Difference("list items", f"{where}: only emulator {only_emu}, only real {only_real}")]
    return []


def _compare_object(
    request: Recorded, where: str, emulator: dict[str, Any], real: dict[str, Any]
) -> list[Difference]:
    found: list[Difference] = []
    emu_meta, real_meta = emulator["metadata"], real["metadata"]
    prefix = emu_meta.get("generateName")
    emu_name, real_name = str(emu_meta.get("name", "")), str(real_meta.get("name", ""))
    if prefix:
        same = real_name.startswith(prefix) and len(real_name) == len(emu_name)
    else:
        same = emu_name == real_name
    if not same:
        found.append(Difference("metadata.name", f"{where}: {emu_name!r} vs real {real_name!r}"))
    for key in ("labels", "annotations"):
        emu_map, real_map = _user_map(emu_meta.get(key)), _user_map(real_meta.get(key))
        if emu_map != real_map:
            found.append(Difference(f"metadata.{key}", f"{where}: {_dict_diff(emu_map, real_map)}"))
    for key in ("finalizers", "generation", "generateName"):
        if emu_meta.get(key) != real_meta.get(key):
            found.append(
                Difference(f"metadata.{key}", f"{where}: {emu_meta.get(key)} vs real {real_meta.get(key)}")
            )
    emu_owners, real_owners = _owners(emu_meta), _owners(real_meta)
    if emu_owners != real_owners:
        found.append(Difference("metadata.ownerReferences", f"{where}: {emu_owners} vs real {real_owners}"))
    emu_managers, real_managers = _managers(emu_meta), _managers(real_meta)
    if emu_managers != real_managers:
        found.append(Difference("managedFields managers", f"{where}: {emu_managers} vs real {real_managers}"))
    kind = str(emulator.get("kind", ""))
    for key in sorted(set(emulator) | set(real)):
        if key in ("metadata", "status", "apiVersion", "kind"):
            continue
        for path, detail in _deep_diff(emulator.get(key), real.get(key), (key,)):
            found.append(Difference("fields", f"{kind} {'.'.join(path)}: {detail}"))
    target = target_of(request.path)
    if is_custom(str(emulator.get("apiVersion", ""))):
        for path, detail in _deep_diff(emulator.get("status"), real.get("status"), ("status",)):
            found.append(Difference("status fields", f"{kind} {'.'.join(path)}: {detail}"))
    elif target is not None and target.subresource == "status" and request.method in ("PUT", "PATCH"):
        found += _written_status(request, kind, emulator, real)
    return found


def _written_status(
    request: Recorded, kind: str, emulator: dict[str, Any], real: dict[str, Any]
) -> list[Difference]:
    """After a status write to a built-in, compare the status keys the client wrote."""
    import json

    try:
        sent = json.loads(request.body or b"{}")
    except ValueError:
        return []
    written = (sent.get("status") if isinstance(sent, dict) else None) or {}
    found = []
    for key in written if isinstance(written, dict) else {}:
        for path, detail in _deep_diff(
            (emulator.get("status") or {}).get(key), (real.get("status") or {}).get(key), ("status", key)
        ):
            found.append(Difference("status fields", f"{kind} {'.'.join(path)}: {detail}"))
    return found


def _user_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if not k.startswith(CONTROLLER_ANNOTATIONS)}


def _dict_diff(emulator: dict[str, str], real: dict[str, str]) -> str:
    parts = []
    for key in sorted(set(emulator) | set(real)):
        if emulator.get(key) != real.get(key):
            parts.append(f"{key}: {emulator.get(key)!r} vs real {real.get(key)!r}")
    return "; ".join(parts)


def _owners(meta: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(o.get("kind")), str(o.get("name"))) for o in meta.get("ownerReferences") or [])


def _managers(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        {
            (str(m.get("manager")), str(m.get("operation")), str(m.get("subresource", "")))
            for m in meta.get("managedFields") or []
            if m.get("manager") not in CONTROLLER_MANAGERS
        }
    )


def _deep_diff(emulator: Any, real: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    if _allocated(path):
        return []
    if isinstance(emulator, dict) and isinstance(real, dict):
        out = []
        for key in sorted(set(emulator) | set(real)):
            here = (*path, str(key))
            if key not in emulator:
                if not _allocated(here):
                    out.append((here, f"only real ({_short(real[key])})"))
            elif key not in real:
                if not _allocated(here):
                    out.append((here, f"only emulator ({_short(emulator[key])})"))
            else:
                out += _deep_diff(emulator[key], real[key], here)
        return out
    if isinstance(emulator, list) and isinstance(real, list) and len(emulator) == len(real):
        out = []
        for a, b in zip(emulator, real, strict=True):
            out += _deep_diff(a, b, (*path, "[]"))
        return out
    if emulator != real:
        return [(path, f"{_short(emulator)} vs real {_short(real)}")]
    return []


def _allocated(path: tuple[str, ...]) -> bool:
    # uids and resourceVersions of other objects (an Event's involvedObject) are each server's own too
    return path in ALLOCATED_PATHS or (len(path) > 1 and path[-1] in ("uid", "resourceVersion"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
