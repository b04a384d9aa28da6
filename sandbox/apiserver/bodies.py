"""Request bodies: JSON, YAML (apply patches), protobuf (helm, kubectl >= 1.32), or no Content-Type."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ApiError
from .protobuf import decode as decode_protobuf

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _YamlLoader = yaml.SafeLoader


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode(raw: bytes, content_type: str | None) -> Any:
    """The request body as JSON-shaped data; an empty body is None."""
    if not raw:
        return None
    kind = media_type(content_type)
    if kind == "application/vnd.kubernetes.protobuf":
        return decode_protobuf(raw)
    if kind.endswith("yaml"):
        try:
            return yaml.load(raw, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if kind in ("", "application/json", "*/*"):
            try:  # kubectl and helm never send YAML as JSON, but hand-written clients do
                data = yaml.load(raw, Loader=_YamlLoader)
                if isinstance(data, (dict, list)):
                    return data
            except yaml.YAMLError:
                pass
        raise ApiError(
            400, "BadRequest", f"the body of the request could not be decoded as JSON: {exc}"
        ) from None
