"""Finding the control-plane binaries, and what a missing control plane means for the tests."""

from __future__ import annotations

import pathlib

import pytest

from sandbox.controlplane import COMPONENTS, find_binaries, why_missing
from sandbox.controlplane.testing import REQUIRE_ENV, availability


def _fake_binaries(directory: pathlib.Path, names: tuple[str, ...] = COMPONENTS) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(0o755)
    return directory


def test_the_environment_variable_names_the_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _fake_binaries(tmp_path / "cp")
    monkeypatch.setenv("FLAGMAN_CONTROL_PLANE_DIR", str(directory))
    assert find_binaries() == directory.resolve()


def test_an_incomplete_directory_is_not_a_control_plane_and_says_what_is_missing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _fake_binaries(tmp_path / "cp", ("etcd", "kube-apiserver"))
    monkeypatch.setenv("FLAGMAN_CONTROL_PLANE_DIR", str(directory))
    assert find_binaries() is None
    reason = why_missing()
    assert "kube-controller-manager, kube-scheduler missing" in reason
    assert "make control-plane" in reason and str(directory) in reason


def test_without_binaries_tests_skip_unless_the_real_backend_is_required(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAGMAN_CONTROL_PLANE_DIR", str(tmp_path / "nothing"))
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    found = availability()
    assert found.binaries is None and found.skip and not found.fail
    monkeypatch.setenv(REQUIRE_ENV, "1")
    found = availability()
    assert found.fail and not found.skip
    assert f"{REQUIRE_ENV}=1" in found.reason and "make control-plane" in found.reason
