"""Values derived from cached objects (a template's hash, a config's checksum), kept until the object
changes: a steady tick checks the target's revision every time, and hashing the pod template and the
tracked configs' data again each tick was a tenth of its CPU."""

from __future__ import annotations

from collections.abc import Callable

from controller.kube.objects import JsonDict


class DerivedValues:
    """`value(role, obj, compute)`: `compute(obj)`, computed again only for a new resourceVersion."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str], tuple[str, str]] = {}

    def value(self, role: str, obj: JsonDict, compute: Callable[[JsonDict], str]) -> str:
        meta = obj.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        if not version:  # an object the API server has not stored: nothing to recognise it by
            return compute(obj)
        key = (role, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        known = self._values.get(key)
        if known is not None and known[0] == version:
            return known[1]
        value = compute(obj)
        self._values[key] = (version, value)
        return value
