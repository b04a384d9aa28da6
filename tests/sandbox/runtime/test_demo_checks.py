"""`flagman demo` says clearly which piece is missing before it starts anything."""

from __future__ import annotations

import pytest

from sandbox import demo


def test_missing_pieces_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "CRD_FILE", demo.REPO_ROOT / "kustomize" / "base" / "flagman" / "absent.yaml")
    monkeypatch.setattr(demo, "TESTER_KUSTOMIZATION", demo.REPO_ROOT / "kustomize" / "absent-tester")
    monkeypatch.setattr(demo, "runnable_package", lambda name: name != "controller")
    assert demo.main(["--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "missing pieces" in err
    assert "kustomize/base/flagman/absent.yaml (the Flagger CRDs)" in err
    assert "kustomize/absent-tester/kustomization.yaml" in err
    assert "python -m controller (the controller)" in err
    assert "loadtester" not in err


def test_everything_the_demo_needs_is_present_in_this_checkout() -> None:
    assert demo.missing_pieces() == []


def test_canary_is_the_tutorials_with_short_intervals() -> None:
    canary = demo.canary_manifest(demo.DemoSettings(interval="500ms", iterations=3, load_test_duration="20s"))
    analysis = canary["spec"]["analysis"]
    assert (analysis["interval"], analysis["iterations"], analysis["threshold"]) == ("500ms", 3, 2)
    assert [m["name"] for m in analysis["metrics"]] == ["request-success-rate", "request-duration"]
    smoke, load = analysis["webhooks"]
    assert smoke["metadata"]["cmd"] == "curl -sd 'anon' http://podinfo-canary.test:9898/token | grep token"
    assert load["metadata"]["cmd"] == "hey -z 20s -q 10 -c 2 http://podinfo-canary.test:9898/"


def test_runnable_package_finds_main_modules() -> None:
    assert demo.runnable_package("loadtester")
    assert not demo.runnable_package("no_such_package_here")
