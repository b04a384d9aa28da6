"""Plain-JSON helpers shared by the bootstrap derivations.

Kubernetes objects are handled as the JSON dicts the API server speaks (`JsonDict`), not as the generated
kubernetes_asyncio models: the derivations of spec section 1 are mostly "copy this map, drop those keys",
which is clearer on dicts, and the same dicts go straight into merge patches and watch caches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]

PRIMARY_SUFFIX = "-primary"
CANARY_SUFFIX = "-canary"
FLUX_KEY_MARKER = "toolkit.fluxcd.io"
CANARY_API_VERSION = "flagger.app/v1beta1"
CANARY_KIND = "Canary"


@dataclass(frozen=True)
class CanaryOwner:
    """What an owner reference to a Canary needs: the Canary's identity."""

    name: str
    namespace: str
    uid: str

    @classmethod
    def from_object(cls, canary: Mapping[str, Any]) -> CanaryOwner:
        meta = canary.get("metadata") or {}
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
        )


def owner_reference(canary: CanaryOwner, *, controller: bool = True) -> JsonDict:
    """The controller owner reference Flagger puts on every object it creates (garbage collection root)."""
    return {
        "apiVersion": CANARY_API_VERSION,
        "kind": CANARY_KIND,
        "name": canary.name,
        "uid": canary.uid,
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def without_flux_keys(values: Mapping[str, str] | None) -> dict[str, str]:
    """Drop keys that Flux owns: copying them would make Flux fight over the generated objects."""
    return {key: value for key, value in (values or {}).items() if FLUX_KEY_MARKER not in key}


def parse_prefixes(include_label_prefix: str | Iterable[str]) -> tuple[str, ...]:
    """`-include-label-prefix` is a comma-separated list; empty entries are ignored."""
    items = include_label_prefix.split(",") if isinstance(include_label_prefix, str) else include_label_prefix
    return tuple(item.strip() for item in items if item.strip())


def filter_by_prefixes(values: Mapping[str, str] | None, prefixes: Iterable[str]) -> dict[str, str]:
    """Keep keys starting with one of `prefixes` (`*` keeps all); Flux keys are always dropped.

    The default (no prefixes) keeps nothing, as in Flagger.
    """
    prefix_list = tuple(prefixes)
    keep_all = "*" in prefix_list
    return {
        key: value
        for key, value in without_flux_keys(values).items()
        if keep_all or any(key.startswith(prefix) for prefix in prefix_list)
    }


def deep_copy(value: Any) -> Any:
    """A deep copy, so derived objects never share mutable parts with cached source objects."""
    return copy.deepcopy(value)


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def object_key(obj: Mapping[str, Any]) -> str:
    """`name.namespace`, the way Flagger names objects in its messages."""
    meta = metadata(obj)
    return f"{meta.get('name', '')}.{meta.get('namespace', '')}"
