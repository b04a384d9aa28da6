"""`helm`/`helmv3` and `kubectl` with the real binaries: argv split with shell rules, no shell run."""

from __future__ import annotations

import pathlib

import pytest

from tests.loadtester.conftest import LoadTester

pytestmark = pytest.mark.usefixtures("tools_on_path")


@pytest.mark.parametrize("task_type", ["helm", "helmv3"])
async def test_helm_version_passes(loadtester: LoadTester, task_type: str) -> None:
    reply = await loadtester.task(type=task_type, cmd="version --short", returnCmdOutput="true")
    assert reply.status == 200
    assert reply.text.startswith("v3.")


async def test_helm_unknown_subcommand_fails_with_its_output(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="helm", cmd="frobnicate podinfo")
    assert reply.status == 500
    assert reply.text.startswith('command frobnicate podinfo failed: Error: unknown command "frobnicate"')
    assert reply.text.endswith(": exit status 1")


async def test_helm_quoted_arguments_arrive_intact(loadtester: LoadTester) -> None:
    reply = await loadtester.task(
        type="helm", cmd="version --template '{{.Version}} and more words'", returnCmdOutput="true"
    )
    assert reply.status == 200
    assert reply.text.startswith("v3.") and reply.text.endswith(" and more words")


async def test_helm_is_not_run_through_a_shell(loadtester: LoadTester, tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marker"
    reply = await loadtester.task(type="helm", cmd=f"version --short; touch {marker}")
    assert reply.status == 500  # helm rejects the extra arguments; nothing ran `touch`
    assert not marker.exists()


async def test_unbalanced_quotes_are_a_clear_400(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="helm", cmd="version --template 'oops")
    assert reply.status == 400
    assert reply.text.startswith("cannot split command")


async def test_missing_binary_reads_like_go(loadtester: LoadTester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reply = await loadtester.task(type="helm", cmd="version")
    assert (reply.status, reply.text) == (
        500,
        'command version failed: : exec: "helm": executable file not found in $PATH',
    )


async def test_kubectl_runs_with_quoted_arguments(
    loadtester: LoadTester, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    reply = await loadtester.task(
        type="kubectl", cmd="config view -o jsonpath='{.kind} x'", returnCmdOutput="true"
    )
    assert (reply.status, reply.text) == (200, "Config x")


async def test_kubectl_failure_is_500_with_output(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="kubectl", cmd="frobnicate")
    assert reply.status == 500
    assert 'unknown command "frobnicate" for "kubectl"' in reply.text
    assert reply.text.endswith(": exit status 1")
