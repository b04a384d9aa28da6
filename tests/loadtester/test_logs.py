"""JSON log lines in zap's shape, with the canary field, Flagger's messages and the output as a field."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from loadtester import logs
from tests.loadtester.conftest import LoadTester


async def test_task_lines(loadtester: LoadTester, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    logs.configure("info", "json")
    await loadtester.task(type="bash", cmd="echo hello")
    await loadtester.task(type="bash", cmd="echo nope; exit 1")
    await loadtester.post("/gate/check", {"name": "podinfo", "namespace": "test"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_msg = {line["msg"]: line for line in lines}
    assert by_msg["bash command echo hello"]["canary"] == "podinfo"
    finished = by_msg["command finished echo hello"]
    assert (finished["level"], finished["canary"], finished["output"]) == ("info", "podinfo.test", "hello\n")
    failed = by_msg["command failed echo nope; exit 1 exit status 1"]
    assert (failed["level"], failed["output"]) == ("error", "nope\n")
    gate = by_msg["podinfo.test gate check: approved false"]
    assert gate["canary"] == "podinfo.test"
    assert list(gate)[:4] == ["level", "ts", "caller", "msg"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", gate["ts"])  # Flagger's ISO8601TimeEncoder


def test_levels_and_console_format(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    logs.configure("warn", "json")
    logs.logger().info("hidden")
    logs.logger().warning("shown", extra={"canary": "a.b"})
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["level"], line["msg"], line["canary"]) == ("warn", "shown", "a.b")
    logs.configure("debug", "console")
    logs.logger().debug("plain text")
    assert stream.getvalue().splitlines()[-1].endswith("DEBUG\tplain text")
    assert logs.logger().level == logging.DEBUG
