"""Field ownership (``metadata.managedFields``) and server-side apply, after structured-merge-diff.

Every write records, per manager, the set of fields it set (FieldsV1: ``{"f:spec": {"f:replicas": {}}}``,
list items as ``k:{"name":"app"}``, set members as ``v:"x"``, ``".": {}`` when a path with children is
itself owned). An ``Update`` (create, put, patch) gives its manager the fields whose values it
changed and takes them away from the others; an ``Apply`` owns exactly the fields of the applied
configuration, removes the fields it applied before and no longer applies (unless someone else
owns them), and fails with a 409 when it would change a field another manager owns, unless ``force``.

Lists follow the schema: ``x-kubernetes-list-type: map`` lists (containers by name, ports, env, ...)
are merged item by item, ``set`` lists value by value, every other list is atomic. Built-in kinds use
the upstream table in builtin_schema.py, custom resources their CRD's ``openAPIV3Schema``; without a
schema, maps are granular and lists atomic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.apiserver import builtin_schema
from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.patches import builtin_type, clone_json

JSON = Any
Path = tuple[str, ...]
FieldSet = set[Path]

_MISSING = object()

# Fields that are never owned (kube-apiserver's stripMeta): the server sets them.
IGNORED_PATHS: tuple[Path, ...] = (
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
)


# ------------------------------------------------------------------------------------------- shapes


class Shape:
    """The merge semantics of one position in an object: granular map, atomic map, or list kind."""

    def field(self, name: str) -> Shape:
        return SCHEMALESS

    def items(self) -> Shape:
        return SCHEMALESS

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        """("atomic" | "set" | "map", list map keys)."""
        return "atomic", ()

    def atomic_map(self) -> bool:
        return False


SCHEMALESS = Shape()


class BuiltinShape(Shape):
    """A position in a built-in kind, from the upstream OpenAPI table (builtin_schema.py)."""

    def __init__(self, type_name: str, info: builtin_schema.FieldInfo | None = None) -> None:
        self.type_name = type_name
        self.info = info

    def field(self, name: str) -> Shape:
        info = builtin_schema.FIELDS.get(self.type_name, {}).get(name)
        if info is None:
            return SCHEMALESS
        return BuiltinShape(info[1], info)

    def items(self) -> Shape:
        return BuiltinShape(self.info[1] if self.info else "")

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        if self.info is None or not self.info[2]:
            return "atomic", ()
        return self.info[2], self.info[3]

    def atomic_map(self) -> bool:
        return self.info is not None and self.info[6] == "atomic"


class OpenAPIShape(Shape):
    """A position in a CRD's structural schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema or {}

    def field(self, name: str) -> Shape:
        properties = self.schema.get("properties") or {}
        if name in properties:
            return OpenAPIShape(properties[name])
        additional = self.schema.get("additionalProperties")
        return OpenAPIShape(additional) if isinstance(additional, dict) else SCHEMALESS

    def items(self) -> Shape:
        items = self.schema.get("items")
        return OpenAPIShape(items) if isinstance(items, dict) else SCHEMALESS

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        list_type = self.schema.get("x-kubernetes-list-type", "atomic")
        return list_type, tuple(self.schema.get("x-kubernetes-list-map-keys") or ())

    def atomic_map(self) -> bool:
        return self.schema.get("x-kubernetes-map-type") == "atomic"


def shape_for(obj: dict[str, Any], openapi_schema: dict[str, Any] | None = None) -> Shape:
    """The shape of an object: its CRD schema if given, else the built-in table, else schemaless."""
    if openapi_schema:
        return OpenAPIShape(openapi_schema)
    type_name = builtin_type(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    return BuiltinShape(type_name) if type_name else SCHEMALESS


# ---------------------------------------------------------------------------------- path elements


def _key_element(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    present = {k: item[k] for k in sorted(keys) if k in item}
    return "k:" + json.dumps(present, separators=(",", ":"), sort_keys=True)


def _value_element(value: JSON) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), sort_keys=True)


def _item_matches(item: JSON, element: str) -> bool:
    if not isinstance(item, dict):
        return False
    wanted = json.loads(element[2:])
    return all(item.get(k) == v for k, v in wanted.items())


def path_string(path: Path) -> str:
    """A path as kube-apiserver prints it in conflicts: ``.spec.containers[name="app"].image``."""
    out = ""
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out += f".{rest}"
        elif kind == "k":
            keys = json.loads(rest)
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        elif kind == "v":
            out += f"[={rest}]"
        elif kind == "i":
            out += f"[{rest}]"
    return out


# ------------------------------------------------------------------------------ FieldsV1 <-> sets


def fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """A set of paths in the FieldsV1 JSON form."""
    members = set(paths)
    tree: dict[str, Any] = {}
    for path in sorted(members):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = tree
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(tree)


def _sorted_tree(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_tree(tree[k]) for k in sorted(tree, key=lambda k: (k != ".", k))}


def parse_fields_v1(tree: Any, prefix: Path = ()) -> FieldSet:
    """The set of paths a FieldsV1 JSON object stands for (malformed parts are ignored)."""
    members: FieldSet = set()
    if isinstance(tree, dict):
        _parse_fields_v1(tree, prefix, members)
    return members


# Parsed trees by identity: an unchanged manager's stored tree is the same object write after write (see
# Manager.encode), so most writes parse no tree. Each entry holds its tree, so an id is not reused.
_PARSED: dict[int, tuple[dict[str, Any], frozenset[Path], bool]] = {}
_PARSED_LIMIT = 4096


def _parsed(tree: dict[str, Any]) -> tuple[frozenset[Path], bool]:
    """``tree``'s paths and whether it is canonical, parsed once while it is recent."""
    hit = _PARSED.get(id(tree))
    if hit is not None and hit[0] is tree:
        return hit[1], hit[2]
    members: FieldSet = set()
    canonical = _parse_fields_v1(tree, (), members)
    if len(_PARSED) >= _PARSED_LIMIT:
        del _PARSED[next(iter(_PARSED))]  # the oldest entry
    frozen = frozenset(members)
    _PARSED[id(tree)] = (tree, frozen, canonical)
    return frozen, canonical


def _order(element: str) -> tuple[bool, str]:
    return element != ".", element


def _parse_fields_v1(tree: dict[str, Any], prefix: Path, members: FieldSet) -> bool:
    """Add the paths of ``tree`` to ``members``; True when ``tree`` is exactly what :func:`fields_v1`
    makes of them (then an unchanged manager keeps its stored tree instead of encoding it again)."""
    canonical = True
    previous: tuple[bool, str] | None = None
    for element, child in tree.items():
        order = _order(element)
        if previous is not None and order <= previous:
            canonical = False
        previous = order
        if element == ".":
            if prefix:
                members.add(prefix)
            canonical = canonical and bool(prefix) and child == {} and len(tree) > 1
            continue
        path = (*prefix, element)
        if not child or not isinstance(child, dict):
            members.add(path)
            canonical = canonical and child == {}
        else:
            canonical = _parse_fields_v1(child, path, members) and canonical
    return canonical


# ----------------------------------------------------------------------------- value -> field set


def field_set(value: JSON, shape: Shape, prefix: Path = ()) -> FieldSet:
    """Every path a value sets (structured-merge-diff ToFieldSet)."""
    members: FieldSet = set()
    if isinstance(value, dict) and not shape.atomic_map():
        if not value and prefix:
            members.add(prefix)
        for key, child in value.items():
            path = (*prefix, f"f:{key}")
            if child is None or child == {}:
                members.add(path)
            members |= field_set(child, shape.field(key), path)
        return members
    if isinstance(value, list):
        list_type, keys = shape.list_type()
        if list_type == "map":
            for item in value:
                if isinstance(item, dict):
                    path = (*prefix, _key_element(item, keys))
                    members.add(path)
                    members |= field_set(item, shape.items(), path)
            return members
        if list_type == "set":
            return {(*prefix, _value_element(item)) for item in value}
    if prefix:
        members.add(prefix)
    return members


# ------------------------------------------------------------------------------------------ compare


class Comparison:
    """Paths added, modified and removed between two versions of an object."""

    def __init__(self) -> None:
        self.added: FieldSet = set()
        self.modified: FieldSet = set()
        self.removed: FieldSet = set()

    def changed(self) -> FieldSet:
        return self.added | self.modified


def compare(old: JSON, new: JSON, shape: Shape) -> Comparison:
    result = Comparison()
    _compare(old, new, shape, (), result)
    return result


def _map_like(value: JSON) -> bool:
    return value is _MISSING or isinstance(value, dict)


def _compare(old: JSON, new: JSON, shape: Shape, path: Path, out: Comparison) -> None:
    if old is new:
        return  # also both missing; a status write shares the stored spec
    if type(old) is type(new) and isinstance(old, dict | list) and old == new:
        return  # equal values differ nowhere below: one C-level comparison instead of a walk
    # Non-empty maps are compared key by key; empty or null ones are leaves (as in structured-merge-diff).
    non_empty = (isinstance(old, dict) and bool(old)) or (isinstance(new, dict) and bool(new))
    if non_empty and not shape.atomic_map() and _map_like(old) and _map_like(new):
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        if path and old is _MISSING:
            out.added.add(path)
        elif path and new is _MISSING:
            out.removed.add(path)
        for key in {**old_map, **new_map}:
            child_path = (*path, f"f:{key}")
            _compare(
                old_map.get(key, _MISSING), new_map.get(key, _MISSING), shape.field(key), child_path, out
            )
        return
    list_type, keys = shape.list_type()
    if (
        list_type in ("map", "set")
        and isinstance(old, list | type(_MISSING))
        and isinstance(new, list | type(_MISSING))
    ):
        old_list = old if isinstance(old, list) else []
        new_list = new if isinstance(new, list) else []
        if old_list or new_list:
            if path and old is _MISSING:
                out.added.add(path)
            elif path and new is _MISSING:
                out.removed.add(path)
            if list_type == "set":
                for item in new_list:
                    if item not in old_list:
                        out.added.add((*path, _value_element(item)))
                for item in old_list:
                    if item not in new_list:
                        out.removed.add((*path, _value_element(item)))
                return
            old_items = {_key_element(i, keys): i for i in old_list if isinstance(i, dict)}
            new_items = {_key_element(i, keys): i for i in new_list if isinstance(i, dict)}
            for element in {**old_items, **new_items}:
                item_path = (*path, element)
                old_item, new_item = old_items.get(element, _MISSING), new_items.get(element, _MISSING)
                if old_item is _MISSING:
                    out.added.add(item_path)
                elif new_item is _MISSING:
                    out.removed.add(item_path)
                _compare(old_item, new_item, shape.items(), item_path, out)
            return
    if not path:
        return
    if old is _MISSING:
        out.added.add(path)
    elif new is _MISSING:
        out.removed.add(path)
    elif old != new:
        out.modified.add(path)


# -------------------------------------------------------------------------------- merge and remove


def merge_applied(live: JSON, applied: JSON, shape: Shape) -> JSON:
    """The live object with the applied configuration merged in (maps granular, lists by list type).

    Returns a new value; nothing of ``live`` or ``applied`` is shared with it.
    """
    if isinstance(live, dict) and isinstance(applied, dict) and not shape.atomic_map():
        merged: dict[str, Any] = {}
        for key, value in live.items():
            if key not in applied:
                merged[key] = clone_json(value)
            elif applied[key] is not None:
                merged[key] = merge_applied(value, applied[key], shape.field(key))
        for key, value in applied.items():
            if key not in live and value is not None:
                merged[key] = clone_json(value)
        return merged
    if isinstance(live, list) and isinstance(applied, list):
        list_type, keys = shape.list_type()
        if list_type == "set":
            return clone_json(live) + [clone_json(v) for v in applied if v not in live]
        if list_type == "map":
            merged_list = list(live)
            touched: set[int] = set()
            for item in applied:
                element = _key_element(item, keys) if isinstance(item, dict) else None
                for index, existing in enumerate(merged_list):
                    if element is not None and _item_matches(existing, element):
                        merged_list[index] = merge_applied(existing, item, shape.items())
                        touched.add(index)
                        break
                else:
                    touched.add(len(merged_list))
                    merged_list.append(clone_json(item))
            return [item if index in touched else clone_json(item) for index, item in enumerate(merged_list)]
    return clone_json(applied)


def _names_applied_item(path: Path, applied: FieldSet) -> bool:
    """Whether ``path`` goes through a list item the apply still sets under a fuller key: kubectl's migrated
    entries key container ports by ``containerPort`` alone, the applied set by ``containerPort`` and
    ``protocol``; structured-merge-diff sees two different items and removes neither."""
    for i, element in enumerate(path):
        if not element.startswith("k:"):
            continue
        wanted = json.loads(element[2:])
        for other in applied:
            if len(other) > i and other[:i] == path[:i] and other[i].startswith("k:") and other[i] != element:
                keys = json.loads(other[i][2:])
                if all(keys.get(k) == v for k, v in wanted.items()):
                    return True
    return False


def _remove_path(obj: JSON, path: Path) -> None:
    if not path:
        return
    parent = _lookup(obj, path[:-1])
    element = path[-1]
    kind, _, rest = element.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        parent[:] = [item for item in parent if not _item_matches(item, element)]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(rest)
        parent[:] = [item for item in parent if item != value]


def _lookup(obj: JSON, path: Path) -> JSON:
    node = obj
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f" and isinstance(node, dict) and rest in node:
            node = node[rest]
        elif kind == "k" and isinstance(node, list):
            node = next((item for item in node if _item_matches(item, element)), _MISSING)
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


# --------------------------------------------------------------------------------- managed fields


class Manager:
    """One ``managedFields`` entry, decoded."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = {k: v for k, v in entry.items() if k != "fieldsV1"}
        raw = entry.get("fieldsV1")
        # The stored tree, kept for encode() while it is canonical and the fields have not changed.
        self._stored: tuple[dict[str, Any], frozenset[Path]] | None = None
        if not isinstance(raw, dict):
            self.fields: FieldSet = set()
            return
        members, canonical = _parsed(raw)
        self.fields = set(members)
        if canonical:
            self._stored = (raw, members)

    def keep_stored_tree(self, previous: Manager) -> None:
        """Encode as ``previous`` did while the fields stay the same (this entry replaces that one)."""
        self._stored = previous._stored

    @property
    def key(self) -> tuple[str, str, str, str]:
        operation = self.entry.get("operation", "")
        # Apply managers are one entry whatever the version; Update managers one per apiVersion.
        api_version = self.entry.get("apiVersion", "") if operation == "Update" else ""
        return (self.entry.get("manager", ""), operation, self.entry.get("subresource", ""), api_version)

    def encode(self) -> dict[str, Any]:
        entry = dict(self.entry)
        entry["fieldsType"] = "FieldsV1"
        if self._stored is not None and self._stored[1] == self.fields:
            entry["fieldsV1"] = self._stored[0]  # stored trees are never changed in place
        else:
            entry["fieldsV1"] = fields_v1(self.fields)
        return entry


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_IGNORED = frozenset(IGNORED_PATHS)
_IGNORED_LENGTHS = tuple(sorted({len(path) for path in IGNORED_PATHS}))


def _without_ignored(paths: FieldSet) -> FieldSet:
    """``paths`` without those at or below an ignored path (set lookups of each prefix length)."""
    return {
        p
        for p in paths
        if p != ("f:metadata",) and not any(p[:length] in _IGNORED for length in _IGNORED_LENGTHS)
    }


def _decode_managers(obj: dict[str, Any] | None) -> list[Manager]:
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [Manager(e) for e in entries if isinstance(e, dict) and e.get("manager") is not None]


def _encode_managers(managers: list[Manager]) -> list[dict[str, Any]]:
    kept = [m for m in managers if m.fields]

    def order(m: Manager) -> tuple[str, str, str, str, str]:
        e = m.entry
        return (
            e.get("operation", ""),
            e.get("time", ""),
            e.get("manager", ""),
            e.get("apiVersion", ""),
            e.get("subresource", ""),
        )

    return [m.encode() for m in sorted(kept, key=order)]


def _strip_meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    """The object without managedFields; shares everything else with ``obj`` (callers must not mutate it)."""
    stripped = dict(obj or {})
    metadata = stripped.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        stripped["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return stripped


def _entry(manager: str, operation: str, api_version: str, subresource: str, now: str) -> dict[str, Any]:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now}
    if subresource:
        entry["subresource"] = subresource
    return entry


def record_write(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str,
    subresource: str = "",
    *,
    openapi_schema: dict[str, Any] | None = None,
    now: Callable[[], str] = _now,
) -> dict[str, Any]:
    """``new`` with managedFields updated for a non-apply write (create, update, patch) by ``manager``.

    As in kube-apiserver, a client may rewrite managedFields itself (kubectl does when it upgrades
    client-side apply to server-side apply): managedFields in ``new`` that differ from ``old``'s are
    the base the write is recorded on; ``[{}]`` strips them all; an empty list changes nothing.
    """
    # Only metadata.managedFields is replaced: the rest of the result shares structure with ``new``.
    result = dict(new)
    metadata = result["metadata"] = dict(new.get("metadata") or {})
    old_entries = ((old or {}).get("metadata") or {}).get("managedFields") or []
    sent = metadata.pop("managedFields", None)
    if isinstance(sent, list) and sent and all(entry == {} for entry in sent):
        return result  # the documented way to reset managedFields
    base = sent if isinstance(sent, list) and sent and sent != old_entries else old_entries
    shape = shape_for(result, openapi_schema)
    comparison = compare(_strip_meta(old), _strip_meta(result), shape)
    changed = _without_ignored(comparison.changed())
    removed = _without_ignored(comparison.removed)
    managers = _decode_managers({"metadata": {"managedFields": base}})
    api_version = str(result.get("apiVersion", ""))
    mine = _entry(manager, operation or "Update", api_version, subresource, now())
    current = Manager(mine)
    for existing in managers:
        if existing.key == current.key:
            current.fields = set(existing.fields)
            current.keep_stored_tree(existing)
            if not changed:  # the entry's time moves only when this write took fields
                current.entry["time"] = existing.entry.get("time", current.entry["time"])
    for other in managers:
        if other.key != current.key:
            other.fields = _drop(other.fields, changed | removed)
    current.fields = _drop(current.fields | changed, removed)
    managers = [m for m in managers if m.key != current.key] + [current]
    entries = _encode_managers(managers)
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    return result


def _drop(fields: FieldSet, removed: FieldSet) -> FieldSet:
    """``fields`` without the removed paths and without anything below a removed list item or map."""
    containers = [r for r in removed if _is_container(r)]
    if not containers:
        return fields - removed
    return {p for p in fields if p not in removed and not any(p[: len(r)] == r for r in containers)}


def _is_container(path: Path) -> bool:
    return bool(path) and path[-1].startswith("k:")


# ------------------------------------------------------------------------------------------- apply


class ApplyConflict(ApiError):
    """409 Conflict: applying would change fields other managers own (kubectl prints the list)."""

    def __init__(self, conflicts: list[tuple[Manager, Path]]) -> None:
        self.conflicts = conflicts
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {_print_manager(m)}",
                "field": path_string(p),
            }
            for m, p in conflicts
        ]
        super().__init__(409, "Conflict", _conflict_message(conflicts), {"causes": causes})


def _print_manager(manager: Manager) -> str:
    text = json.dumps(manager.entry.get("manager", ""))
    if manager.entry.get("subresource"):
        text += f" with subresource {json.dumps(manager.entry['subresource'])}"
    if manager.entry.get("operation") == "Update":
        text += f" using {manager.entry.get('apiVersion', '')}"
    return text


def _conflict_message(conflicts: list[tuple[Manager, Path]]) -> str:
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {_print_manager(manager)}: {path_string(path)}"
    by_manager: dict[str, list[str]] = {}
    for manager, path in conflicts:
        by_manager.setdefault(_print_manager(manager), []).append(path_string(path))
    lines: list[str] = []
    for name in sorted(by_manager):
        lines.append(f"conflicts with {name}:")
        lines.extend(f"- {path}" for path in by_manager[name])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    *,
    subresource: str = "",
    openapi_schema: dict[str, Any] | None = None,
    now: Callable[[], str] = _now,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: create it).

    Raises :class:`ApplyConflict` when the apply would change a field another manager owns and
    ``force`` is false; with ``force`` the applier takes those fields over.
    """
    shape = shape_for(applied if live is None else {**live, **applied}, openapi_schema)
    applied_config: dict[str, Any] = clone_json(applied)
    applied_config.get("metadata", {}).pop("managedFields", None)
    applied_set = _without_ignored(field_set(_strip_meta(applied_config), shape))
    api_version = str(applied.get("apiVersion") or (live or {}).get("apiVersion", ""))
    me = Manager(_entry(manager, "Apply", api_version, subresource, now()))
    if live is None:
        result = applied_config
        me.fields = applied_set
        entries = _encode_managers([me])
        if entries:
            result.setdefault("metadata", {})["managedFields"] = entries
        return result

    managers = _decode_managers(live)
    previous = next((m for m in managers if m.key == me.key), None)
    others = [m for m in managers if m.key != me.key]
    merged: dict[str, Any] = merge_applied(_strip_meta(live), _strip_meta(applied_config), shape)

    # Fields this manager applied before and no longer applies go, unless someone else owns them.
    owned_by_others: FieldSet = set().union(*(m.fields for m in others)) if others else set()
    if previous is not None:
        for path in sorted(previous.fields - applied_set, key=len):
            if path in owned_by_others or any(o[: len(path)] == path for o in owned_by_others):
                continue
            if any(a[: len(path)] == path for a in applied_set) or _names_applied_item(path, applied_set):
                continue  # a container the apply still sets fields in (kubectl's migrated entries mark it)
            _remove_path(merged, path)

    comparison = compare(_strip_meta(live), merged, shape)
    changed = _without_ignored(comparison.changed())
    conflicts = [(m, p) for m in others for p in sorted(m.fields & changed)]
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = {p for _, p in conflicts}
    removed = _without_ignored(comparison.removed)
    for other in others:
        other.fields = _drop(other.fields - taken, removed)
    me.fields = applied_set
    merged_meta = merged.setdefault("metadata", {})
    entries = _encode_managers([*others, me])
    if entries:
        merged_meta["managedFields"] = entries
    return merged
