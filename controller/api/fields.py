"""Reading untyped Kubernetes JSON into typed models while collecting every problem.

Models parse leniently: a wrong value is reported as ``path: problem`` and replaced by the default, so
one bad field never hides the others and the whole list reaches the user in one Warning event.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

JsonMap = Mapping[str, Any]


class FieldReader:
    """Typed accessors over one JSON object, recording problems under ``path``."""

    def __init__(self, data: Any, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.problem("", f"must be an object, got {_type_name(data)}")
            data = {}
        self.data: JsonMap = data

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        where = self.at(key) if key else (self.path or "object")
        self.problems.append(f"{where}: {message}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def child(self, key: str) -> FieldReader:
        return FieldReader(self.data.get(key), self.at(key), self.problems)

    def string(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(key, f"must be a string, got {_type_name(value)}")
            return default
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"must be a boolean, got {_type_name(value)}")
            return default
        return value

    def integer(self, key: str, default: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"must be an integer, got {_type_name(value)}")
            return default
        if isinstance(value, float) and not value.is_integer():
            self.problem(key, f"must be an integer, got {value}")
            return default
        return int(value)

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"must be a number, got {_type_name(value)}")
            return default
        if math.isnan(value) or math.isinf(value):
            self.problem(key, f"must be a finite number, got {value}")
            return default
        return float(value)

    def int_or_str(self, key: str) -> int | str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.problem(key, f"must be an integer or a string, got {_type_name(value)}")
            return None
        return value

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a map of strings, got {_type_name(value)}")
            return {}
        result: dict[str, str] = {}
        for item_key, item_value in value.items():
            if not isinstance(item_value, str):
                self.problem(f"{key}.{item_key}", f"must be a string, got {_type_name(item_value)}")
                continue
            result[str(item_key)] = item_value
        return result

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"must be a list of strings, got {_type_name(value)}")
            return []
        result: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{key}[{index}]", f"must be a string, got {_type_name(item)}")
                continue
            result.append(item)
        return result

    def object_list(self, key: str) -> list[FieldReader]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"must be a list, got {_type_name(value)}")
            return []
        return [
            FieldReader(item, f"{self.at(key)}[{index}]", self.problems) for index, item in enumerate(value)
        ]

    def raw_list(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"must be a list, got {_type_name(value)}")
            return []
        return list(value)

    def raw_map(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be an object, got {_type_name(value)}")
            return {}
        return dict(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def prune(value: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None, an empty map or an empty list (Go's ``omitempty``)."""
    return {key: item for key, item in value.items() if item is not None and item != {} and item != []}
