"""Go's strconv.ParseBool and zap's production JSON lines, as both deployables use them."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from goconv.strconv import BoolSyntaxError, go_quote, parse_bool
from goconv.zap import LEVELS, ZapJsonFormatter, iso8601, level_name


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_spellings(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_false_spellings(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "yes", "on", "tRUE", " true", "2"])
def test_anything_else_is_gos_syntax_error(text: str) -> None:
    with pytest.raises(BoolSyntaxError, match=r'^strconv\.ParseBool: parsing ".*": invalid syntax$'):
        parse_bool(text)
    with pytest.raises(ValueError):
        parse_bool(text)


def test_go_quote() -> None:
    assert go_quote('a "b"\n') == '"a \\"b\\"\\n"'


def _record(level: int, message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("controller", level, "/x/scheduler.py", 7, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_zap_line_has_level_iso8601_ts_caller_msg_and_extra_fields() -> None:
    record = _record(logging.WARNING, "Halt %s", "now", canary="podinfo.test")
    line = json.loads(ZapJsonFormatter().format(record))
    assert list(line)[:4] == ["level", "ts", "caller", "msg"]
    assert line == {
        "level": "warn",
        "ts": iso8601(record.created),  # Flagger's ISO8601TimeEncoder
        "caller": "scheduler.py:7",
        "msg": "Halt now",
        "canary": "podinfo.test",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert iso8601(0.5) == "1970-01-01T00:00:00.500Z"


def test_an_exception_becomes_the_stacktrace_field() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record(logging.CRITICAL, "tick failed")
        record.exc_info = sys.exc_info()
    line = json.loads(ZapJsonFormatter().format(record))
    assert line["level"] == "fatal" and "RuntimeError: boom" in line["stacktrace"]


def test_level_names_both_ways() -> None:
    assert [level_name(level) for level in (10, 20, 30, 40, 50)] == [
        "debug",
        "info",
        "warn",
        "error",
        "fatal",
    ]
    assert LEVELS["warn"] == LEVELS["warning"] == logging.WARNING and LEVELS["panic"] == logging.CRITICAL
