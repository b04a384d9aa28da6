"""The three PATCH flavours of the Kubernetes API: JSON merge patch, JSON patch and strategic merge patch.

Pure functions on JSON-shaped dicts: the inputs are never modified, a new object is returned, and every
bad patch becomes an :class:`ApiError` with the status kube-apiserver answers (400 for a patch that does
not parse, 422 for a JSON patch that does not apply, 415 for a strategic merge patch on a kind that has
no Go struct, i.e. a custom resource).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from sandbox.apiserver import builtin_schema
from sandbox.apiserver.errors import ApiError, bad_request

JSON = Any

# Media types a custom resource accepts for PATCH (kube-apiserver 1.31 lists exactly these three).
CUSTOM_RESOURCE_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)

# Versions that kube-apiserver no longer serves but that manifests still name (the tutorial's Canary
# refers to autoscaling/v2beta2): they are served as aliases of the current version.
VERSION_ALIASES = {"autoscaling/v2beta2": "autoscaling/v2", "autoscaling/v2beta1": "autoscaling/v2"}

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def clone_json(value: JSON) -> JSON:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: clone_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone_json(item) for item in value]
    return value


def _type_name(value: JSON) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "object"


# --------------------------------------------------------------------------------------------- merge


def merge_patch(target: dict[str, Any], patch: JSON) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: maps merge recursively, ``null`` deletes, everything else replaces.

    A patch that is not a JSON object would replace the whole object with a non-object, which
    kube-apiserver cannot decode: it is refused with 400 before anything is changed. The result shares
    the values the patch does not touch with ``target`` (a status patch need not copy the spec):
    callers copy what they go on to change.
    """
    if not isinstance(patch, dict):
        raise bad_request(
            f"error decoding patch: a merge patch must be a JSON object, got {_type_name(patch)} "
            "(send a JSON patch with Content-Type application/json-patch+json)"
        )
    result = _merge(target, patch)
    assert isinstance(result, dict)
    return result


def _merge(target: JSON, patch: JSON) -> JSON:
    if not isinstance(patch, dict):
        return clone_json(patch)
    if not isinstance(target, dict):
        target = {}
    merged = {key: value for key, value in target.items() if key not in patch}
    for key, value in patch.items():
        if value is not None:
            merged[key] = _merge(target.get(key), value)
    # keep the live key order: patched keys where they were, new keys at the end
    return {**{k: merged[k] for k in target if k in merged}, **merged}


# ---------------------------------------------------------------------------------------- JSON patch


def json_patch(target: dict[str, Any], operations: JSON) -> dict[str, Any]:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test) applied with ``jsonpatch``.

    A body that is not a list of operations is a 400, as kube-apiserver's ``DecodePatch``; an
    operation that cannot be applied (missing path, failed ``test``) is the 422 kube-apiserver
    answers, with the generic message it uses and the precise reason as a cause.
    """
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {_type_name(operations)} into Go value of type jsonpatch.Patch"
        )
    for index, operation in enumerate(operations):
        _check_operation(index, operation)
    # Applied one operation at a time so that the error names the operation that failed.
    document: Any = clone_json(target)
    for index, operation in enumerate(operations):
        where = f"{operation['op']} operation at index {index} (path {operation['path']!r})"
        try:
            document = jsonpatch.JsonPatch([operation]).apply(document, in_place=True)
        except jsonpatch.JsonPatchTestFailed as error:
            raise _patch_not_applied(f"{where}: test failed: {_short(str(error))}") from error
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
            raise _patch_not_applied(f"{where}: {_short(str(error))}") from error
        except (TypeError, ValueError, KeyError, IndexError) as error:
            raise _patch_not_applied(f"{where}: {_short(str(error) or type(error).__name__)}") from error
    if not isinstance(document, dict):
        raise _patch_not_applied(f"the patched document is a JSON {_type_name(document)}, not an object")
    return document


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_OPERATIONS_NEEDING_VALUE = {"add", "replace", "test"}
_OPERATIONS_NEEDING_FROM = {"move", "copy"}


def _check_operation(index: int, operation: JSON) -> None:
    """Reject malformed operations up front with 400, as evanphx/json-patch does while decoding."""
    if not isinstance(operation, dict):
        raise bad_request(
            f"json: cannot unmarshal {_type_name(operation)} into Go value of type jsonpatch.Operation"
        )
    op = operation.get("op")
    if op not in _OPERATIONS_NEEDING_VALUE | _OPERATIONS_NEEDING_FROM | {"remove"}:
        raise _patch_not_applied(f"operation {index}: unexpected kind: {op}")
    path = operation.get("path")
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _patch_not_applied(f"operation {index} ({op}): path must be a JSON pointer, got {path!r}")
    if op in _OPERATIONS_NEEDING_VALUE and "value" not in operation:
        raise _patch_not_applied(f"operation {index} ({op}): missing value")
    if op in _OPERATIONS_NEEDING_FROM and not isinstance(operation.get("from"), str):
        raise _patch_not_applied(f"operation {index} ({op}): missing from")


def _patch_not_applied(reason: str) -> ApiError:
    # kube-apiserver: NewGenericServerResponse(422, ...) -> this fixed message; it drops the reason,
    # we keep it as a cause so that kubectl prints something useful.
    return ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {"causes": [{"reason": "FieldValueInvalid", "message": reason, "field": "patch"}]},
    )


# ------------------------------------------------------------------------------ strategic merge patch


class PatchShape:
    """A position in a type table (builtin_schema.FIELDS by default); an unknown type has no
    strategies: its maps merge key by key and its lists are replaced."""

    __slots__ = ("fields", "type_name")

    def __init__(
        self,
        type_name: str,
        fields: Mapping[str, Mapping[str, builtin_schema.FieldInfo]] = builtin_schema.FIELDS,
    ) -> None:
        self.type_name = type_name
        self.fields = fields

    def field(self, name: str) -> builtin_schema.FieldInfo | None:
        return self.fields.get(self.type_name, {}).get(name)

    def child(self, name: str) -> PatchShape:
        info = self.field(name)
        return PatchShape(info[1] if info else "", self.fields)


def builtin_type(api_version: str, kind: str) -> str | None:
    """The schema type name of a built-in kind, or None for kinds without a Go struct (CRs)."""
    api_version = VERSION_ALIASES.get(api_version, api_version)
    return builtin_schema.KIND_TYPES.get(f"{api_version}/{kind}")


def strategic_merge_patch(target: dict[str, Any], patch: JSON, api_version: str, kind: str) -> dict[str, Any]:
    """Kubernetes strategic merge patch, with the merge keys and strategies of the built-in types.

    Lists of the built-in types are merged by their ``patchMergeKey`` (containers by name, service
    ports by port, ...), primitive lists with strategy ``merge`` (finalizers) as sets, every other list
    is replaced. Directives: ``$patch: replace|delete`` (maps and list elements), ``$retainKeys``,
    ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``; ``null`` deletes a key.
    """
    type_name = builtin_type(api_version, kind)
    if type_name is None:
        group_version = api_version if "/" in api_version else f"/{api_version}"
        group, _, version = group_version.partition("/")
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(CUSTOM_RESOURCE_PATCH_TYPES),
            {
                "causes": [
                    {
                        "message": f"strategic merge patch is not supported for {group}/{version}, "
                        f"Kind={kind}: use a JSON merge patch or a JSON patch"
                    }
                ]
            },
        )
    if not isinstance(patch, dict):
        raise bad_request(
            f"json: cannot unmarshal {_type_name(patch)} into Go value of type map[string]interface {{}}"
        )
    return strategic_merge(target, patch, PatchShape(type_name))


def strategic_merge(target: dict[str, Any], patch: dict[str, Any], shape: PatchShape) -> dict[str, Any]:
    """The strategic merge of ``patch`` into ``target`` for a given type table (inputs untouched)."""
    return _merge_map(clone_json(target), clone_json(patch), shape)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], shape: PatchShape) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            replaced: dict[str, Any] = _strip_directives(patch)
            return replaced
        if directive == "delete":
            return {}
        raise bad_request(f"unknown patch type: {directive} in map: {patch}")
    if RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch)
    _apply_set_element_orders(original, patch, shape)
    for key, patch_value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            list_name = key[len(DELETE_FROM_PRIMITIVE_LIST) :]
            if isinstance(original.get(list_name), list):
                if not isinstance(patch_value, list):
                    raise bad_request(
                        f"invalid type for {key}: expected a list, got {_type_name(patch_value)}"
                    )
                original[list_name] = [item for item in original[list_name] if item not in patch_value]
            continue
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original:
            original[key] = _strip_directives(_discard_nulls(patch_value))
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(patch_value, dict):
            info = shape.field(key)
            if info is not None and "replace" in info[4].split(","):  # patchStrategy=replace
                original[key] = _strip_directives(patch_value)
            else:
                original[key] = _merge_map(current, patch_value, shape.child(key))
        elif isinstance(current, list) and isinstance(patch_value, list):
            original[key] = _merge_list(current, patch_value, shape, key)
        else:
            original[key] = _strip_directives(_discard_nulls(patch_value))
    return original


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise bad_request("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in retain:
            raise bad_request("invalid patch format of retainKeys")
    for key in list(original):
        if key not in retain:
            del original[key]


def _merge_key_of(shape: PatchShape, field: str) -> tuple[str, bool]:
    """(merge key, whether the strategy is merge) of a list field."""
    info = shape.field(field)
    if info is None:
        return "", False
    strategies = info[4].split(",")
    return info[5], "merge" in strategies


def _merge_list(original: list[Any], patch: list[Any], shape: PatchShape, field: str) -> list[Any]:
    return _merge_list_ordered(original, patch, shape, field)[0]


def _merge_list_ordered(
    original: list[Any], patch: list[Any], shape: PatchShape, field: str
) -> tuple[list[Any], list[Any]]:
    """The merged list, and the "live order" kube-apiserver then uses for ``$setElementOrder``.

    apimachinery deletes list items in place and appends new ones to the same Go slice while it
    has capacity, so the live list it later compares positions against has been partly overwritten
    by the merge. The second value reproduces that array, which decides where server-only items
    land (the upstream test fixtures depend on it).
    """
    merge_key, merge = _merge_key_of(shape, field)
    if not merge:
        return [_strip_directives(item) for item in patch], list(original)
    if not merge_key:  # a primitive set such as metadata.finalizers
        return _deduplicate_scalars(original + patch), list(original)
    child = shape.child(field)
    replace = False
    plain: list[Any] = []
    # The Go slice: its capacity as append() grew it while decoding, padded with unused slots.
    live_array: list[Any] = list(original) + [None] * (_go_capacity(len(original)) - len(original))
    array, length = live_array, len(original)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(
                f"invalid patch: the list {field} is merged by {merge_key}, got a {_type_name(item)} item"
            )
        directive = item.get(DIRECTIVE)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise bad_request(f"map: {item} does not contain declared merge key: {merge_key}")
            index = _find_by_key(array[:length], merge_key, item[merge_key])
            while index >= 0:  # append(original[:i], original[i+1:]...): shifts left in place
                array[index : length - 1] = array[index + 1 : length]
                length -= 1
                index = _find_by_key(array[:length], merge_key, item[merge_key])
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise bad_request(f"unknown patch type: {directive} in map: {item}")
    if replace:
        return [_strip_directives(item) for item in plain], list(original)
    for item in plain:
        if merge_key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {merge_key}")
        index = _find_by_key(array[:length], merge_key, item[merge_key])
        if index >= 0:
            array[index] = _merge_map(array[index], item, child)
            continue
        if length == len(array):  # append() reallocates: later writes no longer reach the live array
            array = array[:length] + [None] * max(1, length)
        array[length] = _strip_directives(_discard_nulls(item))
        length += 1
    return array[:length], live_array[: len(original)]


def _go_capacity(length: int) -> int:
    """The capacity append() reaches for ``length`` items appended one by one from empty."""
    capacity = 0
    while capacity < length:
        capacity = max(1, capacity * 2)
    return capacity


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    for index, existing in enumerate(items):
        if isinstance(existing, dict) and existing.get(merge_key) == value:
            return index
    return -1


def _deduplicate_scalars(items: list[Any]) -> list[Any]:
    """apimachinery's deduplicateScalars: a duplicate is replaced by the last item (order changes)."""
    result = list(items)
    length = len(result) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if result[i] == result[j]:
                result[j] = result[length]
                result = result[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return result


def _apply_set_element_orders(original: dict[str, Any], patch: dict[str, Any], shape: PatchShape) -> None:
    """``$setElementOrder/<list>``: merge the list, then order it as kube-apiserver does.

    Items named in the order list come in that order; items only the server knows keep their
    relative position from the live list.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise bad_request(f"invalid type for {key}: expected a list, got {_type_name(order)}")
        field = key[len(SET_ELEMENT_ORDER) :]
        merge_key, _ = _merge_key_of(shape, field)
        live = original.get(field)
        patched = patch.pop(field, None)
        live_list = live if isinstance(live, list) else []
        if patched is None and not isinstance(live, list):
            continue
        if patched is not None and not isinstance(patched, list):
            raise bad_request(f"invalid type for {field}: expected a list, got {_type_name(patched)}")
        identity = _identity(merge_key)
        order_ids = [identity(item) for item in order]
        if patched is not None:
            patch_ids = [
                identity(item) for item in patched if not (isinstance(item, dict) and DIRECTIVE in item)
            ]
            positions = [order_ids.index(i) if i in order_ids else -1 for i in patch_ids]
            if -1 in positions or positions != sorted(positions):
                raise bad_request("sequence of patch list and $setElementOrder list don't match")
        if patched is not None:
            merged, server_order = _merge_list_ordered(live_list, patched, shape, field)
        else:
            merged, server_order = list(live_list), list(live_list)
        in_order = sorted(
            (i for i in merged if identity(i) in order_ids), key=lambda i: order_ids.index(identity(i))
        )
        live_ids = [identity(i) for i in server_order]
        server_only = _sort_by([i for i in merged if identity(i) not in order_ids], live_ids, identity)
        original[field] = _merge_sorted(server_only, in_order, live_ids, identity)


def _sort_by(items: list[Any], order: list[Any], identity: Callable[[Any], Any]) -> list[Any]:
    """normalizeSliceOrder: a stable sort by position in ``order`` (unknown items keep their place)."""
    positions: dict[Any, int] = {}
    for index, item_id in enumerate(order):
        positions.setdefault(item_id, index)
    known = sorted((i for i in items if identity(i) in positions), key=lambda i: positions[identity(i)])
    iterator = iter(known)
    return [next(iterator) if identity(i) in positions else i for i in items]


def _identity(merge_key: str) -> Callable[[Any], Any]:
    def identity(item: Any) -> Any:
        if merge_key and isinstance(item, dict):
            return repr(item.get(merge_key))
        return repr(item)

    return identity


def _merge_sorted(
    server_only: list[Any], patch_items: list[Any], live_ids: list[Any], identity: Callable[[Any], Any]
) -> list[Any]:
    """apimachinery's mergeSortedSlice: a server-only item goes first only if the live list had it first."""
    result: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            result.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            result.append(server_only[i])
            i += 1
        else:
            left, right = identity(server_only[i]), identity(patch_items[j])
            if left in live_ids and right in live_ids and live_ids.index(left) < live_ids.index(right):
                result.append(server_only[i])
                i += 1
            else:
                result.append(patch_items[j])
                j += 1
    return result


def _discard_nulls(value: JSON) -> JSON:
    """Nulls for keys the live object does not have are dropped (apimachinery IgnoreUnmatchedNulls)."""
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    return value


def _strip_directives(value: JSON) -> JSON:
    """Directives never reach the stored object, even inside values that are copied verbatim."""
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith(("$patch", "$retainKeys", "$setElementOrder/", "$deleteFromPrimitiveList/"))
        }
    if isinstance(value, list):
        return [
            _strip_directives(item)
            for item in value
            if not (isinstance(item, dict) and set(item) == {DIRECTIVE})
        ]
    return value
