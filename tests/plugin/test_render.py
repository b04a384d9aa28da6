"""What ``kubectl flagman`` prints, from a Canary and its events (pure functions), and its argument rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controller.api.requests import Action
from kubectl_flagman import follow, render
from kubectl_flagman.actions import new_request
from kubectl_flagman.cli import build_parser
from kubectl_flagman.errors import ExitCode, PluginError
from tests.controller.kube import objects


def _canary(phase: str = "Progressing", iterations: int = 3, **status: Any) -> dict[str, Any]:
    body = objects.tutorial_canary()
    body["metadata"]["namespace"] = "test"
    body["status"] = {
        "phase": phase,
        "iterations": iterations,
        "failedChecks": 1,
        "lastAppliedSpec": "fm1-a",
        **status,
    }
    return body


def test_progress_bar() -> None:
    assert render.progress_bar(0, 10) == "[--------------------] 0/10"
    assert render.progress_bar(5, 10) == "[##########----------] 5/10"
    assert render.progress_bar(11, 10) == "[####################] 10/10"


def test_status_shows_metrics_webhooks_and_events() -> None:
    events = [
        {
            "type": "Normal",
            "message": "Pre-rollout check smoke-test passed",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
        {
            "type": "Normal",
            "message": "Halt podinfo.test advancement success rate 69.17% < 99%",
            "lastTimestamp": "2026-01-01T00:00:30Z",
        },
    ]
    info = render.summary(_canary(), events)
    text = render.status_text(info, datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    assert "Iteration:      [######--------------] 3/10" in text
    assert "Failed checks:  1 of 2 allowed before rollback" in text
    success = next(m for m in info["metrics"] if m["name"] == "request-success-rate")
    assert (success["threshold"], success["lastFailedValue"]) == (">= 99", "69.17%")
    duration = next(m for m in info["metrics"] if m["name"] == "request-duration")
    assert (duration["threshold"], duration["lastFailure"]) == ("<= 500", None)
    hooks = {w["name"]: w["lastResult"] for w in info["webhooks"]}
    assert hooks["smoke-test"] == "Pre-rollout check smoke-test passed"
    assert "30s   Normal   Halt podinfo.test advancement success rate 69.17% < 99%" in text


def test_table_and_pause() -> None:
    paused = _canary()
    paused["metadata"]["annotations"] = {"flagman.app/paused": '{"requestedBy": "bob"}'}
    lines = render.table([paused, _canary("Succeeded", 0)], with_namespace=True).splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "NAME",
        "STATUS",
        "ITERATION",
        "FAILEDCHECKS",
        "PAUSED",
        "LASTTRANSITIONTIME",
    ]
    assert lines[1].split()[:6] == ["test", "podinfo", "Progressing", "3/10", "1", "yes"]
    assert lines[2].split()[5] == "no"
    assert "Paused:         by bob" in render.status_text(render.summary(paused, []), datetime.now(UTC))


def test_watch_verdicts() -> None:
    assert follow.verdict(_canary("Succeeded"), seen_running=False, release=False) == ExitCode.OK
    assert follow.verdict(_canary("Failed"), seen_running=False, release=False) == ExitCode.FAILED
    assert follow.verdict(_canary("Succeeded"), seen_running=False, release=True) is None, (
        "the previous release"
    )
    assert follow.verdict(_canary("Succeeded"), seen_running=True, release=True) == ExitCode.OK
    assert follow.verdict(_canary("Progressing"), seen_running=True, release=False) is None


def test_a_request_is_refused_in_the_wrong_phase() -> None:
    made = new_request(Action.RETRY, _canary("Failed"), "alice")
    assert (made.action, made.revision, made.requested_by) == (Action.RETRY, "fm1-a", "alice")
    with pytest.raises(PluginError, match=r"cannot retry podinfo\.test: it is Progressing, not Failed"):
        new_request(Action.RETRY, _canary(), "alice")


def test_connection_flags_before_or_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--context", "prod", "-n", "shop", "status", "web"])
    after = parser.parse_args(["status", "web", "--context", "prod", "-n", "shop"])
    assert (before.context, before.namespace) == (after.context, after.namespace) == ("prod", "shop")
    assert parser.parse_args(["abort", "web", "--timeout", "2m"]).timeout == 120.0
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["status", "web", "-o", "wide"])
    assert exit_info.value.code == ExitCode.USAGE


def test_status_shows_the_post_promotion_analysis_and_the_preview() -> None:
    body = _canary(
        "Finalising",
        2,
        conditions=[
            {
                "type": "PostPromotionAnalysis",
                "status": "Unknown",
                "reason": "Running",
                "message": "Verifying podinfo-primary.test after promotion: 2/5 iterations passed, 1 failed"
                " checks (revision fm1-a)",
            },
            {
                "type": "PreviewReplicas",
                "status": "False",
                "reason": "FullSize",
                "message": "podinfo.test runs 3 of 3 replicas, scaled up from 1 for promotion",
            },
        ],
    )
    body["metadata"]["annotations"] = {"flagman.app/post-promotion-iterations": "5"}
    info = render.summary(body, [])
    text = render.status_text(info, datetime(2026, 1, 1, tzinfo=UTC))
    assert "Iteration:      [########------------] 2/5" in text
    assert "Post-promotion: verifying the promoted version (5 iterations): Verifying podinfo-primary" in text
    assert "Preview:        podinfo.test runs 3 of 3 replicas, scaled up from 1 for promotion" in text
    assert render.progress_line(body) == (
        "Finalising (post-promotion analysis) [########------------] 2/5  failed checks 1"
    )
    # Still Finalising: `status --watch` goes on until Succeeded (0) or Failed (3).
    assert follow.verdict(body, seen_running=True, release=True) is None
    body["status"]["phase"] = "Succeeded"
    body["status"]["conditions"][0].update(status="True", reason="Passed", message="5 of 5 passed")
    assert follow.verdict(body, seen_running=True, release=True) == ExitCode.OK
    assert "Post-promotion: passed: 5 of 5 passed" in render.status_text(
        render.summary(body, []), datetime.now(UTC)
    )
    assert render.progress_line(body).startswith("Succeeded        [")


def test_status_shows_the_flagman_options_and_an_instant_rollback() -> None:
    body = _canary("Failed")
    body["metadata"]["annotations"] = {
        "flagman.app/selector-switch": "true",
        "flagman.app/scale-down-delay-seconds": "600",
        "flagman.app/request": "{}",
        "other.io/note": "x",
    }
    body["status"]["conditions"] = [
        {"type": "InstantRollback", "status": "True", "reason": "Restoring", "message": "podinfo serves ..."}
    ]
    info = render.summary(body, [])
    text = render.status_text(info, datetime(2026, 1, 1, tzinfo=UTC))
    assert "Options:        scale-down-delay-seconds=600, selector-switch=true" in text
    assert "Rollback:       Restoring: podinfo serves ..." in text
    parser = build_parser()
    assert parser.parse_args(["undo", "podinfo", "--no-wait"]).command == "undo"
    with pytest.raises(PluginError, match=r"cannot undo podinfo\.test: it is Progressing, not Finalising"):
        new_request(Action.UNDO, _canary(), "alice")
