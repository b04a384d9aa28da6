"""The controller process without an API server: its command line, log lines and Kubernetes identity."""

from __future__ import annotations

import json
import logging
import re

import pytest

from controller.api import CanaryRef
from controller.cli import main
from controller.kube.recorder import event_object
from controller.version import VERSION
from goconv.zap import ZapJsonFormatter


def test_event_object_shape() -> None:
    ref = CanaryRef(name="podinfo", namespace="test", uid="u-1", resource_version="7")
    event = event_object(ref, "Warning", "é" * 600, "flagman-host")
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert (event["reason"], event["action"], event["reportingController"]) == ("Synced", "Synced", "flagger")
    assert event["regarding"] == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": "test",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert len(event["note"].encode()) <= 1024 and event["note"].endswith("...")
    assert event["eventTime"].endswith("Z") and "." in event["eventTime"]


def test_json_log_lines_have_zaps_keys_and_the_canary() -> None:
    formatter = ZapJsonFormatter()
    record = logging.LogRecord("controller", logging.WARNING, "x.py", 7, "Halt %s", ("now",), None)
    record.canary = "podinfo.test"
    line = json.loads(formatter.format(record))
    assert line["level"] == "warn" and line["msg"] == "Halt now" and line["canary"] == "podinfo.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["caller"].endswith(":7")


def test_user_agent_identifies_the_controller() -> None:
    from controller.kube.api import USER_AGENT

    assert USER_AGENT.startswith("flagman-controller/")


def test_cli_answers_version_help_and_bad_flags_without_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-version"], {}) == 0
    assert capsys.readouterr().out.strip() == f"Flagman version {VERSION} revision  unknown"
    assert main(["--help"], {}) == 0
    assert "-min-analysis-interval" in capsys.readouterr().out
    assert main(["-mesh-provider=istio"], {}) == 2
    assert "Flagman does not implement" in capsys.readouterr().err
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # this one configures logging, then fails to connect
        assert main(["--kubeconfig=/nonexistent/kubeconfig", "-log-format=text"], {}) == 1
    finally:
        root.handlers[:], root.level = handlers, level
