"""Payload decoding exactly as Go's encoding/json decodes Flagger's struct (spec §4.1)."""

from __future__ import annotations

import pytest

from loadtester.payload import Payload, PayloadError, decode_payload, go_bool


def test_full_payload() -> None:
    body = (
        b'{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc","metadata":{"cmd":"x"}}'
    )
    assert decode_payload(body) == Payload("podinfo", "test", "Progressing", "abc", {"cmd": "x"})


def test_null_and_missing_fields_are_empty() -> None:
    assert decode_payload(b"null") == Payload()
    assert decode_payload(b"{}") == Payload()
    assert decode_payload(b'{"name": null, "metadata": null}') == Payload()


def test_unknown_fields_ignored_and_names_case_insensitive() -> None:
    payload = decode_payload(b'{"NAME": "a", "NameSpace": "b", "extra": [1, 2], "METADATA": {"Cmd": "x"}}')
    assert (payload.name, payload.namespace, dict(payload.metadata)) == ("a", "b", {"Cmd": "x"})
    assert payload.canary == "a.b"


def test_null_metadata_value_is_an_empty_string() -> None:
    assert dict(decode_payload(b'{"metadata": {"type": null}}').metadata) == {"type": ""}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"1",
        b'"x"',
        b"{",
        b"{} {}",
        b'{"metadata": {"a": 1}}',
        b'{"metadata": {"a": true}}',
        b'{"metadata": {"a": {}}}',
        b'{"metadata": []}',
        b'{"name": 1}',
        b'{"metadata": {"a": NaN}}',
        b"\xff",
    ],
)
def test_decode_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_payload(body)


def test_go_bool() -> None:
    assert all(go_bool(text) for text in ("1", "t", "T", "TRUE", "true", "True"))
    assert not any(go_bool(text) for text in ("0", "false", "yes", "", None, " true"))
