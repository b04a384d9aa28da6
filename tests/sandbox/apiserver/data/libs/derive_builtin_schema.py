"""Derives sandbox/apiserver/builtin_schema.py from the Kubernetes OpenAPI definitions shipped with
kubernetes-validate (a dev dependency), so the merge-key table is the upstream one, not a guess.

Regenerate with ``.venv/bin/python tests/sandbox/apiserver/data/libs/derive_builtin_schema.py >
sandbox/apiserver/builtin_schema.py`` then ``ruff format`` it;
test_patches.py checks that the checked-in module still matches.
"""

from __future__ import annotations

import json
import pprint
from importlib import resources
from typing import Any

KUBERNETES_VERSION = "v1.31.0"
GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "networking.k8s.io",
    "coordination.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "apiextensions.k8s.io",
    "events.k8s.io",
    "discovery.k8s.io",
}
PREFIX = "io.k8s."


def short(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    for prefix in (
        "io.k8s.api.",
        "io.k8s.apimachinery.pkg.apis.",
        "io.k8s.apiextensions-apiserver.pkg.apis.",
    ):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _type_map_type(defs: dict[str, Any], prop: dict[str, Any]) -> str:
    ref = prop.get("$ref")
    if not ref:
        return ""
    return str(defs.get(ref.rsplit("/", 1)[-1], {}).get("x-kubernetes-map-type", ""))


def load_definitions() -> dict[str, Any]:
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"{KUBERNETES_VERSION}-local"
    return json.loads((base / "_definitions.json").read_text())["$defs"]  # type: ignore[no-any-return]


def derive() -> tuple[dict[str, str], dict[str, dict[str, tuple[Any, ...]]]]:
    defs = load_definitions()
    kinds: dict[str, str] = {}
    for name, schema in defs.items():
        if "metadata" not in schema.get("properties", {}):
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if gvk["group"] in GROUPS and not gvk["kind"].endswith("List"):
                group_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                kinds[f"{group_version}/{gvk['kind']}"] = short(name)
    raw: dict[str, dict[str, tuple[Any, ...]]] = {}
    for name, schema in defs.items():
        fields: dict[str, tuple[Any, ...]] = {}
        for field, prop in schema.get("properties", {}).items():
            container, child = "", ""
            if "$ref" in prop:
                container, child = "object", short(prop["$ref"])
            elif "items" in prop:
                container, child = "list", short(prop["items"]["$ref"]) if "$ref" in prop["items"] else ""
            elif isinstance(prop.get("additionalProperties"), dict):
                container = "map"
                ap = prop["additionalProperties"]
                child = short(ap["$ref"]) if "$ref" in ap else ""
            fields[field] = (
                container,
                child,
                prop.get("x-kubernetes-list-type", ""),
                tuple(prop.get("x-kubernetes-list-map-keys", ())),
                prop.get("x-kubernetes-patch-strategy", ""),
                prop.get("x-kubernetes-patch-merge-key", ""),
                # LabelSelector and friends declare map-type atomic on the type, not on the field
                prop.get("x-kubernetes-map-type", "") or _type_map_type(defs, prop),
            )
        raw[short(name)] = fields
    # Keep only types reachable from the kinds, and only fields that carry an annotation or lead to one.
    interesting: dict[str, bool] = {}

    def is_interesting(type_name: str, stack: frozenset[str]) -> bool:
        if type_name in interesting:
            return interesting[type_name]
        if type_name in stack or type_name not in raw:
            return False
        result = False
        for field in raw[type_name].values():
            if any(field[2:]) or (field[1] and is_interesting(field[1], stack | {type_name})):
                result = True
        interesting[type_name] = result
        return result

    types: dict[str, dict[str, tuple[Any, ...]]] = {}
    pending = sorted(set(kinds.values()))
    while pending:
        type_name = pending.pop()
        if type_name in types or not is_interesting(type_name, frozenset()):
            continue
        kept: dict[str, tuple[Any, ...]] = {}
        for field_name, field in sorted(raw[type_name].items()):
            child_interesting = bool(field[1]) and is_interesting(field[1], frozenset())
            if not (any(field[2:]) or child_interesting):
                continue
            container, child, list_type, keys, strategy, merge_key, map_type = field
            kept[field_name] = (
                container,
                child if child_interesting else "",
                list_type,
                keys,
                strategy,
                merge_key,
                map_type,
            )
            if child_interesting:
                pending.append(child)
        types[type_name] = kept
    kinds = {k: v for k, v in kinds.items() if v in types}
    return dict(sorted(kinds.items())), dict(sorted(types.items()))


def render() -> str:
    kinds, types = derive()
    return (
        '"""Merge keys, list types and patch strategies of the built-in kinds (GENERATED, do not edit).\n\n'
        f"Derived from the Kubernetes {KUBERNETES_VERSION} OpenAPI definitions by\n"
        "tests/sandbox/apiserver/data/libs/derive_builtin_schema.py. Only types and fields that carry a\n"
        "list type, map type or patch strategy (or lead to one) are kept: everything else merges as a\n"
        "plain map or is replaced as an atomic list, which is the default for both strategic merge patch\n"
        "and server-side apply.\n\n"
        "FIELDS[type][field] = (container, child_type, list_type, list_map_keys, patch_strategy,\n"
        "                       patch_merge_key, map_type); container is object | list | map.\n"
        '"""\n\n'
        "from typing import Final\n\n"
        "FieldInfo = tuple[str, str, str, tuple[str, ...], str, str, str]\n\n"
        f"KIND_TYPES: Final[dict[str, str]] = {pprint.pformat(kinds, width=108, sort_dicts=False)}\n\n"
        "FIELDS: Final[dict[str, dict[str, FieldInfo]]] = "
        f"{pprint.pformat(types, width=108, sort_dicts=False)}\n"
    )


if __name__ == "__main__":
    print(render(), end="")
