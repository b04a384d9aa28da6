"""CRD structural schemas (``openAPIV3Schema``): defaulting, pruning and validation.

kube-apiserver decodes a custom resource, drops the fields its schema does not declare (unless
``x-kubernetes-preserve-unknown-fields``), fills in ``default``s and validates the result with
kube-openapi; every failure becomes a ``field.Error`` and the request gets a 422 whose message lists
them. This module reproduces those steps and the wording, so that a typo in a Canary is reported the
way a real cluster reports it::

    Canary.flagger.app "podinfo" is invalid: spec.analysis.threshold: Invalid value: "string":
    spec.analysis.threshold in body must be of type number: "string"

Not evaluated: CEL rules (``x-kubernetes-validations``), ``$ref``, ``uniqueItems``, ratcheting.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.patches import clone_json

JSON = Any
Schema = dict[str, Any]

PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
EMBEDDED = "x-kubernetes-embedded-resource"

# field.ErrorType -> the StatusCause reason kube-apiserver puts in details.causes.
CAUSE_REASONS = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Duplicate value": "FieldValueDuplicate",
    "Forbidden": "FieldValueForbidden",
}
_NO_VALUE = object()


def go_value(value: JSON) -> str:
    """A bad value printed as Go's field.Error does: %q for strings, %v for numbers and bools."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in value.items())
        return f"map[string]interface {{}}{{{inner}}}"
    return f"[]interface {{}}{{{', '.join(json.dumps(v) for v in value)}}}"


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``path`` (``spec.analysis.threshold``, ``<nil>`` for whole-object errors),
    ``kind`` (the ErrorType text: "Required value", "Invalid value", "Unsupported value", "Too long",
    "Too many", "Duplicate value"), ``detail``, and the bad ``value`` (omitted for Required/Too long)."""

    path: str
    kind: str
    detail: str = ""
    value: Any = field(default=_NO_VALUE, compare=False)
    type_invalid: bool = field(default=False, compare=False)

    def body(self) -> str:
        """``field.Error.ErrorBody()``: the text after ``<path>: ``."""
        text = self.kind
        if self.kind not in ("Required value", "Too long", "Forbidden") and self.value is not _NO_VALUE:
            text += f": {go_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def cause(self) -> dict[str, str]:
        reason = (
            "FieldValueTypeInvalid"
            if self.type_invalid
            else CAUSE_REASONS.get(self.kind, "FieldValueInvalid")
        )
        return {"reason": reason, "message": self.body(), "field": self.path}

    def __str__(self) -> str:
        return f"{self.path}: {self.body()}"


def invalid(kind: str, name: str, errors: list[FieldError], group: str) -> ApiError:
    """The 422 kube-apiserver answers, e.g. ``Canary.flagger.app "podinfo" is invalid: [a, b]``."""
    qualified = f"{kind}.{group}" if group else kind
    messages: list[str] = []
    for error in errors:
        if str(error) not in messages:  # utilerrors.NewAggregate de-duplicates
            messages.append(str(error))
    aggregate = messages[0] if len(messages) == 1 else f"[{', '.join(messages)}]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {aggregate}',
        {"name": name, "group": group, "kind": kind, "causes": [e.cause() for e in errors]},
    )


def strict_decoding_error(kind: str, version: str, unknown: list[str]) -> ApiError:
    """``fieldValidation=Strict`` with undeclared fields: the 400 kube-apiserver answers for a CR."""
    fields = ", ".join(f'unknown field "{path}"' for path in unknown)
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}',
    )


def _json_type(value: JSON) -> str:
    """The type name go-openapi reports for a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _matches_type(value: JSON, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return _json_type(value) == "integer"
    if expected == "number":
        return _json_type(value) in ("integer", "number")
    return True


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _clone_except(obj: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    """A deep copy of ``obj`` whose top-level ``skip`` values are shared, not copied, and so is
    ``metadata.managedFields``: a CRD schema may constrain only the name in ObjectMeta, so nothing here
    changes it."""
    result = {
        key: value if key in skip else clone_json(value) for key, value in obj.items() if key != "metadata"
    }
    metadata = obj.get("metadata", _NO_VALUE)
    if isinstance(metadata, dict):
        own = {key: clone_json(value) for key, value in metadata.items() if key != "managedFields"}
        if "managedFields" in metadata:
            own["managedFields"] = metadata["managedFields"]
        result["metadata"] = own
    elif metadata is not _NO_VALUE:
        result["metadata"] = clone_json(metadata)
    return {key: result[key] for key in obj}  # the order of the keys as sent


class StructuralSchema:
    """One version's ``openAPIV3Schema`` of a CRD.

    Every entry point takes ``skip``: top-level fields that were admitted already (the spec a status write
    shares with the stored object). They count as present but are neither copied, defaulted, pruned nor
    validated again: unchanged, they cannot have become invalid (kube-apiserver's validation ratcheting).
    """

    def __init__(self, openapi_v3_schema: dict[str, Any]) -> None:
        self.root: Schema = openapi_v3_schema or {}

    # ------------------------------------------------------------------------------- defaulting

    def apply_defaults(self, obj: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A copy of ``obj`` with every absent (or null, non-nullable) field that has a ``default`` set."""
        result = _clone_except(obj, skip)
        self._default(result, self.root, skip)
        return result

    def default_and_prune(
        self, obj: dict[str, Any], skip: frozenset[str] = frozenset(), unknown: list[str] | None = None
    ) -> dict[str, Any]:
        """``prune(apply_defaults(obj))`` with one copy instead of two; ``unknown`` gets what
        ``unknown_fields(obj)`` would return (defaults fill only declared fields, so it is the same)."""
        result = _clone_except(obj, skip)
        self._default(result, self.root, skip)
        removed = unknown if unknown is not None else []
        self._prune(result, self.root, "", root=True, removed=removed, skip=skip, report_nulls=False)
        return result

    def _default(self, value: JSON, schema: Schema, skip: frozenset[str] = frozenset()) -> None:
        if isinstance(value, dict):
            properties = schema.get("properties") or {}
            for key, sub in properties.items():
                if "default" in sub and (
                    key not in value or (value[key] is None and not sub.get("nullable"))
                ):
                    value[key] = clone_json(sub["default"])
            for key, item in value.items():
                if key in skip:
                    continue
                if key in properties:
                    self._default(item, properties[key])
                elif isinstance(schema.get("additionalProperties"), dict):
                    self._default(item, schema["additionalProperties"])
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for item in value:
                self._default(item, schema["items"])

    # ---------------------------------------------------------------------------------- pruning

    def prune(self, obj: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A copy of ``obj`` without the fields the schema does not declare (and without non-nullable nulls).

        ``apiVersion``, ``kind`` and ``metadata`` at the root and in embedded resources are kept,
        ``x-kubernetes-preserve-unknown-fields`` keeps everything below it that is not declared.
        """
        result = _clone_except(obj, skip)
        self._prune(result, self.root, "", root=True, removed=[], skip=skip)
        return result

    def unknown_fields(self, obj: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[str]:
        """The paths pruning would remove (for ``fieldValidation=Strict|Warn``), e.g. ``spec.foo``."""
        removed: list[str] = []
        self._prune(
            obj, self.root, "", root=True, removed=removed, report_nulls=False, skip=skip, mutate=False
        )
        return removed

    def _prune(
        self,
        value: JSON,
        schema: Schema,
        path: str,
        *,
        root: bool = False,
        removed: list[str],
        report_nulls: bool = True,
        skip: frozenset[str] = frozenset(),
        mutate: bool = True,
    ) -> None:
        """Remove (or with ``mutate=False`` only report) the undeclared fields below ``value``."""
        if isinstance(value, dict):
            properties = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            keep_meta = root or schema.get(EMBEDDED)
            for key in list(value):
                if key in skip:
                    continue
                child_path = _child(path, key)
                if keep_meta and key in ("apiVersion", "kind", "metadata"):
                    continue  # ObjectMeta is pruned to its own Go type, not by the CRD schema
                if key in properties:
                    sub = properties[key]
                elif isinstance(additional, dict):
                    sub = additional
                elif schema.get(PRESERVE) or additional is True or (root and not properties and not schema):
                    continue
                else:
                    if mutate:
                        del value[key]
                    removed.append(child_path)
                    continue
                if value[key] is None and not sub.get("nullable"):
                    if mutate:
                        del value[key]
                    if report_nulls:
                        removed.append(child_path)
                    continue
                self._prune(
                    value[key], sub, child_path, removed=removed, report_nulls=report_nulls, mutate=mutate
                )
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self._prune(
                    item,
                    schema["items"],
                    f"{path}[{index}]",
                    removed=removed,
                    report_nulls=report_nulls,
                    mutate=mutate,
                )

    # ------------------------------------------------------------------------------- validation

    def validate(self, obj: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[FieldError]:
        """Every violation of the schema, in the order kube-openapi reports them."""
        errors: list[FieldError] = []
        self._validate(obj, self.root, "", errors, root=True, skip=skip)
        return errors

    def _validate(
        self,
        value: JSON,
        schema: Schema,
        path: str,
        errors: list[FieldError],
        root: bool = False,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        shown = path or "<nil>"
        if value is None:
            if not schema.get("nullable") and schema.get("type"):
                errors.append(self._type_error(shown, schema["type"], value))
            return
        if schema.get(INT_OR_STRING):
            if not (isinstance(value, str) or _json_type(value) == "integer"):
                errors.append(self._type_error(shown, "integer,string", value))
                return
        elif schema.get("type") and not _matches_type(value, schema["type"]):
            errors.append(self._type_error(shown, schema["type"], value))
            return
        self._validate_value(value, schema, shown, errors)
        self._validate_combinators(value, schema, path, errors)
        if isinstance(value, dict):
            self._validate_object(value, schema, path, errors, root, skip)
        elif isinstance(value, list):
            self._validate_list(value, schema, path, errors)

    @staticmethod
    def _type_error(path: str, expected: str, value: JSON) -> FieldError:
        actual = _json_type(value)
        return FieldError(
            path,
            "Invalid value",
            f'{path} in body must be of type {expected}: "{actual}"',
            value=actual,
            type_invalid=True,
        )

    def _validate_value(self, value: JSON, schema: Schema, path: str, errors: list[FieldError]) -> None:
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(
                json.dumps(v if isinstance(v, str) else json.dumps(v), ensure_ascii=False)
                for v in schema["enum"]
            )
            errors.append(FieldError(path, "Unsupported value", f"supported values: {allowed}", value=value))
        if isinstance(value, str):
            self._validate_string(value, schema, path, errors)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._validate_number(value, schema, path, errors)

    @staticmethod
    def _validate_string(value: str, schema: Schema, path: str, errors: list[FieldError]) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(FieldError(path, "Too long", f"may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                FieldError(
                    path,
                    "Invalid value",
                    f"{path} in body should be at least {schema['minLength']} chars long",
                    value=value,
                )
            )
        pattern = schema.get("pattern")
        if pattern is not None:
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True  # RE2 syntax that Python does not know: do not reject the object for it
            if not matched:
                errors.append(
                    FieldError(path, "Invalid value", f"{path} in body should match '{pattern}'", value=value)
                )
        fmt = schema.get("format")
        if fmt and not _valid_format(fmt, value):
            errors.append(
                FieldError(
                    path,
                    "Invalid value",
                    f'{path} in body must be of type {fmt}: "{value}"',
                    value=value,
                    type_invalid=True,
                )
            )

    @staticmethod
    def _validate_number(value: float, schema: Schema, path: str, errors: list[FieldError]) -> None:
        def fail(detail: str) -> None:
            errors.append(FieldError(path, "Invalid value", f"{path} in body {detail}", value=value))

        if "maximum" in schema:
            if schema.get("exclusiveMaximum") and value >= schema["maximum"]:
                fail(f"should be less than {go_value(schema['maximum'])}")
            elif value > schema["maximum"]:
                fail(f"should be less than or equal to {go_value(schema['maximum'])}")
        if "minimum" in schema:
            if schema.get("exclusiveMinimum") and value <= schema["minimum"]:
                fail(f"should be greater than {go_value(schema['minimum'])}")
            elif value < schema["minimum"]:
                fail(f"should be greater than or equal to {go_value(schema['minimum'])}")
        multiple = schema.get("multipleOf")
        if multiple and (value / multiple) != int(value / multiple):
            fail(f"should be a multiple of {go_value(multiple)}")

    def _validate_object(
        self,
        value: dict[str, Any],
        schema: Schema,
        path: str,
        errors: list[FieldError],
        root: bool,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        for key in schema.get("required") or []:
            if key not in value:
                errors.append(FieldError(_child(path, key), "Required value"))
        shown = path or "<nil>"
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(
                FieldError(
                    shown, "Too many", f"must have at most {schema['maxProperties']} items", value=len(value)
                )
            )
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errors.append(
                FieldError(
                    shown,
                    "Invalid value",
                    f"{shown} in body should have at least {schema['minProperties']} properties",
                    value=len(value),
                )
            )
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if root and key == "metadata" and key in properties:
                continue  # ObjectMeta is validated by the generic object code, not by the CRD schema
            if key in skip:
                continue
            if key in properties:
                self._validate(item, properties[key], _child(path, key), errors)
            elif isinstance(additional, dict):
                self._validate(item, additional, _child(path, key), errors)

    def _validate_list(self, value: list[Any], schema: Schema, path: str, errors: list[FieldError]) -> None:
        shown = path or "<nil>"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(
                FieldError(
                    shown, "Too many", f"must have at most {schema['maxItems']} items", value=len(value)
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                FieldError(
                    shown,
                    "Invalid value",
                    f"{shown} in body should have at least {schema['minItems']} items",
                    value=len(value),
                )
            )
        list_type = schema.get("x-kubernetes-list-type")
        if list_type in ("set", "map"):
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen: list[Any] = []
            for index, item in enumerate(value):
                identity = (
                    {k: item.get(k) for k in keys if k in item}
                    if list_type == "map" and isinstance(item, dict)
                    else item
                )
                if identity in seen:
                    errors.append(FieldError(f"{shown}[{index}]", "Duplicate value", value=identity))
                else:
                    seen.append(identity)
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self._validate(item, schema["items"], f"{path}[{index}]", errors)

    def _validate_combinators(self, value: JSON, schema: Schema, path: str, errors: list[FieldError]) -> None:
        """oneOf / anyOf / allOf / not: value validations only (structural schemas allow no types there)."""
        if not ("allOf" in schema or "anyOf" in schema or "oneOf" in schema or "not" in schema):
            return
        quoted = json.dumps(path)
        for sub in schema.get("allOf") or []:
            self._validate_combinator_branch(value, sub, path, errors)
        any_of = schema.get("anyOf") or []
        if any_of:
            results = [self._branch_errors(value, sub, path) for sub in any_of]
            if all(results):
                errors.append(
                    FieldError(
                        "<nil>",
                        "Invalid value",
                        f"{quoted} must validate at least one schema (anyOf)",
                        value="",
                    )
                )
                errors.extend(_best_failure(results))
        one_of = schema.get("oneOf") or []
        if one_of:
            results = [self._branch_errors(value, sub, path) for sub in one_of]
            valid = sum(1 for r in results if not r)
            if valid == 0:
                errors.append(
                    FieldError(
                        "<nil>",
                        "Invalid value",
                        f"{quoted} must validate one and only one schema (oneOf). Found none valid",
                        value="",
                    )
                )
                errors.extend(_best_failure(results))
            elif valid > 1:
                errors.append(
                    FieldError(
                        "<nil>",
                        "Invalid value",
                        f"{quoted} must validate one and only one schema (oneOf). "
                        f"Found {valid} valid alternatives",
                        value="",
                    )
                )
        if isinstance(schema.get("not"), dict) and not self._branch_errors(value, schema["not"], path):
            errors.append(
                FieldError("<nil>", "Invalid value", f"{quoted} must not validate the schema (not)", value="")
            )

    def _validate_combinator_branch(
        self, value: JSON, sub: Schema, path: str, errors: list[FieldError]
    ) -> None:
        errors.extend(self._branch_errors(value, sub, path))

    def _branch_errors(self, value: JSON, sub: Schema, path: str) -> list[FieldError]:
        found: list[FieldError] = []
        self._validate(value, sub, path, found)
        return found


def _best_failure(results: list[list[FieldError]]) -> list[FieldError]:
    """The failures of the alternative that came closest (kube-openapi reports them with the oneOf error)."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"
)


def _valid_format(fmt: str, value: str) -> bool:
    """The string formats kube-openapi checks for CRDs; unknown formats (``url``, ``string``) pass."""
    try:
        if fmt == "date-time":
            if not _RFC3339.match(value):
                return False
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00").replace(" ", "T"))
        elif fmt == "date":
            datetime.strptime(value, "%Y-%m-%d")
        elif fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "byte":
            base64.b64decode(value, validate=True)
        elif fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(value)
        elif fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
        elif fmt == "hostname":
            return bool(_HOSTNAME.match(value))
    except ValueError:
        return False
    return True
