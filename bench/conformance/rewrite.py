"""Translating one session's requests to the real server and its answers back.

Each session runs in namespaces of its own (``c<n>-<name>``), so sessions never see each other's objects. What
the two servers generate differently (names from ``generateName``, uids, resourceVersions) is learnt from the
answers as the replay goes, and later requests that carry the emulator's values get the real server's.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

# Namespaced fields outside metadata that hold a namespace name.
_NAMESPACE_FIELDS = ("namespace",)


@dataclass
class Mapper:
    """Emulator values -> real values for one session (and the way back, for comparing answers)."""

    prefix: str
    namespaces: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    # -- namespaces ------------------------------------------------------------------------------------------
    def namespace(self, name: str) -> str:
        if name not in self.namespaces:
            self.namespaces[name] = f"{self.prefix}-{name}"[:63].rstrip("-")
        return self.namespaces[name]

    def emulator_namespace(self, real: str) -> str | None:
        return next((emu for emu, mapped in self.namespaces.items() if mapped == real), None)

    # -- requests --------------------------------------------------------------------------------------------
    def path(self, path: str) -> str:
        parts = path.split("/")
        for i, part in enumerate(parts):
            if i > 0 and parts[i - 1] == "namespaces":
                parts[i] = self.namespace(part)
            elif part in self.names:
                parts[i] = self.names[part]
        return "/".join(parts)

    def query(self, query: str) -> str:
        out = []
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if key == "hash":
                continue  # the OpenAPI document's hash is the emulator's own
            if key == "resourceVersion" and value in self.versions:
                value = self.versions[value]
            elif key == "fieldSelector":
                value = ",".join(self._selector_term(term) for term in value.split(","))
            elif key == "continue":
                continue  # the emulator's continue token means nothing to the real server
            out.append((key, value))
        return urllib.parse.urlencode(out)

    def _selector_term(self, term: str) -> str:
        for op in ("!=", "==", "="):
            if op in term:
                key, value = term.split(op, 1)
                if key.endswith("namespace") and value:
                    value = self.namespace(value)
                elif value in self.names:
                    value = self.names[value]
                return f"{key}{op}{value}"
        return term

    def body(self, data: Any, is_namespace_object: bool = False) -> Any:
        """A request body with the session's namespaces, names, uids and resourceVersions."""
        if isinstance(data, list) and all(isinstance(op, dict) and "op" in op for op in data):
            return [self._json_patch_op(op) for op in data]
        return self._walk(data, is_namespace_object, path=())

    def _json_patch_op(self, op: dict[str, Any]) -> dict[str, Any]:
        """JSON patch values: a ``test`` of ``/metadata/resourceVersion`` (kopf's lock) needs the real one."""
        value, where = op.get("value"), str(op.get("path", ""))
        if isinstance(value, str):
            key = where.rsplit("/", 1)[-1]
            op = {**op, "value": self._string(value, key, tuple(where.strip("/").split("/")), False)}
        elif value is not None:
            op = {**op, "value": self._walk(value, False, ())}
        return op

    def _walk(self, data: Any, is_namespace: bool, path: tuple[str, ...]) -> Any:
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                here = (*path, key)
                if isinstance(value, str):
                    out[key] = self._string(value, key, here, is_namespace)
                else:
                    out[key] = self._walk(value, is_namespace, here)
            return out
        if isinstance(data, list):
            return [self._walk(item, is_namespace, (*path, "[]")) for item in data]
        return data

    def _string(self, value: str, key: str, path: tuple[str, ...], is_namespace: bool) -> str:
        if key in _NAMESPACE_FIELDS and value:
            return self.namespace(value)
        if key == "name" and path == ("metadata", "name") and is_namespace:
            return self.namespace(value)
        if key == "resourceVersion":
            return self.versions.get(value, value)
        if key == "uid":
            return self.uids.get(value, value)
        return self.names.get(value, value)

    # -- learning from answers -------------------------------------------------------------------------------
    def learn(self, emulator: Any, real: Any) -> None:
        """Pair what both servers generated in the same answer (an object, or a list's items by position)."""
        if not isinstance(emulator, dict) or not isinstance(real, dict):
            return
        if isinstance(emulator.get("items"), list) and isinstance(real.get("items"), list):
            self._learn_meta(emulator.get("metadata"), real.get("metadata"), names=False)
            return
        self._learn_meta(emulator.get("metadata"), real.get("metadata"), names=True)

    def _learn_meta(self, emulator: Any, real: Any, names: bool) -> None:
        if not isinstance(emulator, dict) or not isinstance(real, dict):
            return
        for key, table in (("uid", self.uids), ("resourceVersion", self.versions)):
            emu_value, real_value = emulator.get(key), real.get(key)
            if isinstance(emu_value, str) and isinstance(real_value, str) and emu_value and real_value:
                table[emu_value] = real_value
        if names and emulator.get("generateName") and emulator.get("name") and real.get("name"):
            self.names[str(emulator["name"])] = str(real["name"])

    # -- answers back ----------------------------------------------------------------------------------------
    def back(self, text: str) -> str:
        """Real-server text (a message) in the emulator's terms, so messages compare."""
        for emu, real in self.namespaces.items():
            text = text.replace(real, emu)
        for emu, real in self.names.items():
            text = text.replace(real, emu)
        return text
