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


def test_unpaired_surrogate_escapes_become_replacement_characters_as_in_go() -> None:
    body = (
        rb'{"name": "a\udc00", "metadata": {"cmd": "echo \ud800 \ud83d\ude00 \ud800\ud800", "k\ud800": ""}}'
    )
    payload = decode_payload(body)
    assert payload.name == "a\ufffd"
    assert dict(payload.metadata) == {"cmd": "echo \ufffd \U0001f600 \ufffd\ufffd", "k\ufffd": ""}
    assert payload.metadata["cmd"].encode()  # every string can be encoded (argv, logs, answers)


def test_invalid_utf8_inside_strings_becomes_one_replacement_character_per_byte_as_in_go() -> None:
    # Go: utf8.DecodeRune gives (RuneError, 1) for each byte that starts no valid sequence, so a
    # truncated three-byte sequence is two U+FFFD, and an encoded surrogate (ED A0 80) is three.
    payload = decode_payload(b'{"metadata": {"cmd": "a\xe2\x82 b\xed\xa0\x80 c\xff \xe2\x82\xac"}}')
    assert payload.metadata["cmd"] == "a\ufffd\ufffd b\ufffd\ufffd\ufffd c\ufffd \u20ac"


@pytest.mark.parametrize("body", [b"\xef\xbb\xbf{}", '{"name": "x"}'.encode("utf-16")])
def test_only_utf8_without_bom_is_json_as_in_go(body: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_payload(body)
