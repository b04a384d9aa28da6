"""Small helpers shared by the server modules: timestamps, Go-style booleans, object paths."""

from __future__ import annotations

import datetime
import re
import secrets
import string
from typing import Any

from goconv.strconv import FALSE_SPELLINGS as _GO_FALSE
from goconv.strconv import TRUE_SPELLINGS as _GO_TRUE

from .errors import ApiError


def parse_bool(value: str | None, name: str = "") -> bool:
    """Go's ``strconv.ParseBool``: kubernetes_asyncio sends ``True``, client-go ``true``."""
    if value is None or value == "":
        return False
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise ApiError(400, "BadRequest", f"invalid boolean value for {name}: {value!r}")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime | None = None) -> str:
    """Whole seconds with a ``Z``, as metav1.Time serializes."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime.datetime | None = None) -> str:
    """metav1.MicroTime: microseconds with a ``Z``."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration`` (the AGE column)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest_m = (s % 3600) // 60
        return f"{hours}h{rest_m}m" if rest_m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest_h = hours % 24
        return f"{days}d{rest_h}h" if rest_h else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def age(obj: dict[str, Any]) -> str:
    created = parse_time(obj.get("metadata", {}).get("creationTimestamp", ""))
    if created is None:
        return "<unknown>"
    return human_duration((now() - created).total_seconds())


def random_suffix(length: int = 5) -> str:
    """generateName's suffix: lowercase consonants and digits, like apimachinery's ``rand.String``."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[\?\(@\.([\w.]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]")


def json_path(obj: Any, path: str) -> Any:
    """The small JSONPath subset printer columns use: ``.a.b``, ``[0]``, ``[?(@.type=="Ready")]``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    current: Any = obj
    for match in _SEGMENT.finditer(text):
        key, index, filter_key, filter_value = match.groups()
        if current is None:
            return None
        if key is not None:
            if key == "$":
                continue
            current = current.get(key) if isinstance(current, dict) else None
        elif index is not None:
            i = int(index)
            current = current[i] if isinstance(current, list) and i < len(current) else None
        else:
            if not isinstance(current, list):
                return None
            found = [
                item
                for item in current
                if isinstance(item, dict) and str(dotted_get(item, filter_key)) == filter_value
            ]
            current = found[0] if found else None
    return current


def dotted_get(obj: Any, path: str) -> Any:
    current = obj
    for part in path.strip(".").split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def dotted_set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    current = obj
    for part in parts[:-1]:
        nested = current.get(part)
        if not isinstance(nested, dict):
            nested = {}
            current[part] = nested
        current = nested
    current[parts[-1]] = value


def selector_string(selector: Any) -> str:
    """A LabelSelector rendered as the Scale ``status.selector`` string (matchLabels only, sorted)."""
    if not isinstance(selector, dict):
        return ""
    labels = selector.get("matchLabels") or {}
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
NAME_CHARS = set(string.ascii_lowercase + string.digits + "-.")
