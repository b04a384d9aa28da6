"""Flagger's webhook payload, decoded the way Go's `encoding/json` decodes it into Flagger's struct.

The rules that matter (spec §4.1): unknown top-level fields are ignored, top-level names match
case-insensitively, `null` for a field (or for the whole body) leaves it empty, and anything of the
wrong type — a non-string metadata value, a non-object body, trailing garbage — is a decode error.
Text that is not valid Unicode decodes as Go decodes it: every byte of invalid UTF-8 and every unpaired
UTF-16 surrogate escape (`"\\ud800"`) becomes U+FFFD. Python would keep the surrogate in the string, and
no UTF-8 encoder (argv, logs, the answer) accepts it.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from goconv.strconv import TRUE_SPELLINGS
from loadtester.errors import LoadtesterError

_STRING_FIELDS = ("name", "namespace", "phase", "checksum")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads has already joined the valid pairs


def _replace_one_byte(error: UnicodeError) -> tuple[str, int]:
    """Go's rule for invalid UTF-8: one U+FFFD per byte that does not start a valid sequence."""
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd", error.start + 1


codecs.register_error("loadtester-go-utf8", _replace_one_byte)


class PayloadError(LoadtesterError, ValueError):
    """The body is not a webhook payload; Flagger answers these with 400 and an empty body."""


@dataclasses.dataclass(frozen=True)
class Payload:
    name: str = ""
    namespace: str = ""
    phase: str = ""
    checksum: str = ""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def canary(self) -> str:
        """`<name>.<namespace>`: the gate key and the `canary` log field."""
        return f"{self.name}.{self.namespace}"


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"invalid JSON literal {name}")


def _go_string(text: str) -> str:
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


def _decode_string(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"json: cannot unmarshal {type(value).__name__} into field {field} of type string")
    return _go_string(value)


def _decode_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError("json: cannot unmarshal metadata: not an object")
    metadata: dict[str, str] = {}
    for key, item in value.items():
        if item is None:  # Go stores the zero value for a null map element
            metadata[_go_string(key)] = ""
        elif isinstance(item, str):
            metadata[_go_string(key)] = _go_string(item)
        else:
            raise PayloadError(f"json: cannot unmarshal metadata value of key {key!r} into string")
    return metadata


def decode_payload(body: bytes) -> Payload:
    """Decode a request body; raise PayloadError for everything Go would refuse."""
    try:
        # Decoded here rather than by json.loads, which would also guess UTF-16/32 (Go reads UTF-8 only).
        document = json.loads(body.decode("utf-8", "loadtester-go-utf8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise PayloadError(str(error)) from None
    if document is None:
        return Payload()
    if not isinstance(document, dict):
        raise PayloadError("json: cannot unmarshal non-object into the webhook payload")
    fields: dict[str, Any] = {}
    # Later keys win, and a key matches a field ignoring case (Go prefers an exact match, but with
    # one field per name the outcome is the same).
    for key, value in document.items():
        lowered = key.lower()
        if lowered in _STRING_FIELDS:
            decoded = _decode_string(lowered, value)
            if decoded is not None:
                fields[lowered] = decoded
        elif lowered == "metadata":
            metadata = _decode_metadata(value)
            if metadata is not None:
                fields["metadata"] = metadata
    return Payload(**fields)


def go_bool(text: str | None) -> bool:
    """`strconv.ParseBool`, with a parse error meaning false (how Flagger reads its boolean metadata).

    A set lookup rather than `parse_bool` in a try: the key is usually absent, and this runs per request.
    """
    return text in TRUE_SPELLINGS
