"""Decoder for the protobuf request bodies that helm and kubectl >= 1.32 send.

Their typed clients POST/PUT Secrets, ConfigMaps and Namespaces and DELETE with ``DeleteOptions`` as
``application/vnd.kubernetes.protobuf`` and do not fall back to JSON on a 415. The body is the magic
``k8s\\x00`` followed by a ``runtime.Unknown`` envelope {1 TypeMeta{1 apiVersion, 2 kind}, 2 raw,
3 contentEncoding, 4 contentType}; ``raw`` is the object, encoded with the field numbers of
``k8s.io/api/core/v1/generated.proto`` and ``k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto``.

Go's encoder writes non-pointer fields even when they are empty, so empty values are dropped to get
what the JSON encoding (``omitempty``) would carry; pointer fields (``immutable``,
``gracePeriodSeconds``, ...) are kept even when zero or false.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.apiserver.errors import ApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def is_protobuf(content_type: str) -> bool:
    """True for ``application/vnd.kubernetes.protobuf`` (parameters and case ignored)."""
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


# ------------------------------------------------------------------------------------- wire format


class _Malformed(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _Malformed("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint longer than 64 bits")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field of one message, in order."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = _varint(data, pos)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Malformed(f"field {number} runs past the end of the message")
            value, pos = data[pos : pos + length], pos + length
        elif wire_type == FIXED64:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire_type == FIXED32:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise _Malformed(f"unsupported wire type {wire_type} for field {number}")
        if pos > len(data):
            raise _Malformed(f"field {number} runs past the end of the message")
        fields.append((number, wire_type, value))
    return fields


# ----------------------------------------------------------------------------------- message shapes


@dataclass(frozen=True)
class Field:
    """How one protobuf field maps to JSON.

    ``kind``: string, bytes (base64 in JSON), int, bool, time (metav1.Time -> RFC 3339), fieldsv1
    (FieldsV1, whose bytes are JSON), map (string -> string), bytesmap (string -> bytes), or a message name.
    ``repeated`` makes a list; ``pointer`` keeps zero values (Go pointer fields are only written when set).
    """

    name: str
    kind: str
    repeated: bool = False
    pointer: bool = False


MESSAGES: dict[str, dict[int, Field]] = {
    "TypeMeta": {1: Field("apiVersion", "string"), 2: Field("kind", "string")},
    "Unknown": {
        1: Field("typeMeta", "TypeMeta"),
        2: Field("raw", "rawbytes"),
        3: Field("contentEncoding", "string"),
        4: Field("contentType", "string"),
    },
    "Time": {1: Field("seconds", "int"), 2: Field("nanos", "int")},
    "ObjectMeta": {
        1: Field("name", "string"),
        2: Field("generateName", "string"),
        3: Field("namespace", "string"),
        4: Field("selfLink", "string"),
        5: Field("uid", "string"),
        6: Field("resourceVersion", "string"),
        7: Field("generation", "int"),
        8: Field("creationTimestamp", "time"),
        9: Field("deletionTimestamp", "time", pointer=True),
        10: Field("deletionGracePeriodSeconds", "int", pointer=True),
        11: Field("labels", "map"),
        12: Field("annotations", "map"),
        13: Field("ownerReferences", "OwnerReference", repeated=True),
        14: Field("finalizers", "string", repeated=True),
        17: Field("managedFields", "ManagedFieldsEntry", repeated=True),
    },
    "OwnerReference": {
        5: Field("apiVersion", "string"),
        1: Field("kind", "string"),
        3: Field("name", "string"),
        4: Field("uid", "string"),
        6: Field("controller", "bool", pointer=True),
        7: Field("blockOwnerDeletion", "bool", pointer=True),
    },
    "ManagedFieldsEntry": {
        1: Field("manager", "string"),
        2: Field("operation", "string"),
        3: Field("apiVersion", "string"),
        4: Field("time", "time", pointer=True),
        6: Field("fieldsType", "string"),
        7: Field("fieldsV1", "fieldsv1", pointer=True),
        8: Field("subresource", "string"),
    },
    "Secret": {
        1: Field("metadata", "ObjectMeta"),
        2: Field("data", "bytesmap"),
        3: Field("type", "string"),
        4: Field("stringData", "map"),
        5: Field("immutable", "bool", pointer=True),
    },
    "ConfigMap": {
        1: Field("metadata", "ObjectMeta"),
        2: Field("data", "map"),
        3: Field("binaryData", "bytesmap"),
        4: Field("immutable", "bool", pointer=True),
    },
    "Namespace": {
        1: Field("metadata", "ObjectMeta"),
        2: Field("spec", "NamespaceSpec"),
        3: Field("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: Field("finalizers", "string", repeated=True)},
    "NamespaceStatus": {
        1: Field("phase", "string"),
        2: Field("conditions", "NamespaceCondition", repeated=True),
    },
    "NamespaceCondition": {
        1: Field("type", "string"),
        2: Field("status", "string"),
        4: Field("lastTransitionTime", "time"),
        5: Field("reason", "string"),
        6: Field("message", "string"),
    },
    "DeleteOptions": {
        1: Field("gracePeriodSeconds", "int", pointer=True),
        2: Field("preconditions", "Preconditions", pointer=True),
        3: Field("orphanDependents", "bool", pointer=True),
        4: Field("propagationPolicy", "string", pointer=True),
        5: Field("dryRun", "string", repeated=True),
        6: Field("ignoreStoreReadErrorWithClusterBreakingPotential", "bool", pointer=True),
    },
    "Preconditions": {
        1: Field("uid", "string", pointer=True),
        2: Field("resourceVersion", "string", pointer=True),
    },
}

# The kinds this decoder accepts, by (apiVersion, kind) as the envelope names them.
SUPPORTED_KINDS = {
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("v1", "DeleteOptions"),
    ("meta.k8s.io/v1", "DeleteOptions"),
}


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(field: Field, wire_type: int, value: int | bytes) -> Any:
    expected = VARINT if field.kind in ("int", "bool") else LENGTH_DELIMITED
    if wire_type != expected:
        raise _Malformed(f"field {field.name} has wire type {wire_type}, expected {expected}")
    if field.kind == "int":
        assert isinstance(value, int)
        return _signed64(value)
    if field.kind == "bool":
        return bool(value)
    assert isinstance(value, bytes)
    if field.kind == "string":
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _Malformed(f"field {field.name} is not valid UTF-8") from error
    if field.kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    if field.kind == "rawbytes":
        return value
    if field.kind == "fieldsv1":  # FieldsV1{1 Raw}: the raw bytes are the JSON object itself
        raw = {number: item for number, _, item in _fields(value)}.get(1, b"")
        try:
            return json.loads(raw) if isinstance(raw, bytes) and raw else {}
        except ValueError as error:
            raise _Malformed(f"field {field.name} is not JSON") from error
    if field.kind == "time":
        parsed = _message("Time", value)
        if not parsed.get("seconds") and not parsed.get("nanos"):
            return None
        stamp = datetime.fromtimestamp(parsed.get("seconds", 0), UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    if field.kind in ("map", "bytesmap"):
        entry = {number: raw for number, _, raw in _fields(value)}
        key = entry.get(1, b"")
        item = entry.get(2, b"")
        if not isinstance(key, bytes) or not isinstance(item, bytes):
            raise _Malformed(f"map entry of {field.name} is malformed")
        decoded_value = (
            base64.b64encode(item).decode("ascii") if field.kind == "bytesmap" else item.decode("utf-8")
        )
        return (key.decode("utf-8"), decoded_value)
    return _message(field.kind, value)


def _is_empty(value: Any) -> bool:
    return value in (None, "", 0, False) or value == {} or value == []


def _message(name: str, data: bytes) -> dict[str, Any]:
    shape = MESSAGES[name]
    result: dict[str, Any] = {}
    for number, wire_type, value in _fields(data):
        field = shape.get(number)
        if field is None:
            continue  # a field newer than this table: ignored, as an older apiserver would
        decoded = _scalar(field, wire_type, value)
        if field.kind in ("map", "bytesmap"):
            key, item = decoded
            result.setdefault(field.name, {})[key] = item
        elif field.repeated:
            result.setdefault(field.name, []).append(decoded)
        else:
            result[field.name] = decoded
    for field in shape.values():
        if field.name not in result:
            continue
        if result[field.name] is None or (not field.pointer and _is_empty(result[field.name])):
            del result[field.name]
    return result


# ------------------------------------------------------------------------------------------ decode


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object carried by a Kubernetes protobuf request body.

    Secret, ConfigMap, Namespace and DeleteOptions are decoded (with ``apiVersion`` and ``kind``
    from the envelope); any other kind is a 415 naming it, and a body that is not a Kubernetes
    protobuf message is a 400.
    """
    if not body.startswith(MAGIC):
        raise ApiError(
            400,
            "BadRequest",
            "the object provided is unrecognized: provided data does not appear to be a protobuf message, "
            f"expected prefix {list(MAGIC)}",
        )
    try:
        envelope = _message("Unknown", body[len(MAGIC) :])
    except _Malformed as error:
        raise ApiError(400, "BadRequest", f"unable to decode the protobuf envelope: {error}") from None
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if envelope.get("contentEncoding"):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"protobuf content encoding {envelope['contentEncoding']!r} is not supported",
        )
    if (api_version, kind) not in SUPPORTED_KINDS:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format: protobuf is decoded for Secret, ConfigMap, "
            f"Namespace and DeleteOptions only, not for {kind or 'an object without kind'} "
            f"({api_version or 'no apiVersion'}); send it as application/json",
        )
    try:
        obj = _message(kind, envelope.get("raw", b""))
    except _Malformed as error:
        raise ApiError(
            400,
            "BadRequest",
            f'{kind} in version "{api_version}" cannot be handled as a {kind}: {error}',
        ) from None
    return {"apiVersion": api_version, "kind": kind, **obj}
