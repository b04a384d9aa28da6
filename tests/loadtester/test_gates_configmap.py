"""Gates shared by replicas through a ConfigMap, against the sandbox API server over real HTTP."""

from __future__ import annotations

import json
import subprocess

import pytest

from loadtester.gates_kube import configmap_key
from sandbox.apiserver.testing import ApiServer
from tests.loadtester.conftest import StartLoadTester

CANARY = {"name": "podinfo", "namespace": "test"}
CONFIGMAP = "default/flagman-gates"


@pytest.fixture
def kubeconfig(apiserver: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    monkeypatch.setenv("KUBECONFIG", apiserver.kubeconfig)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return apiserver


def _configmap_data(apiserver: ApiServer) -> dict[str, str]:
    result = subprocess.run(
        ["kubectl", "get", "configmap", "flagman-gates", "-n", "default", "-o", "json"],
        env=apiserver.kubectl_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data: dict[str, str] = json.loads(result.stdout).get("data", {})
    return data


async def test_two_replicas_share_gates(kubeconfig: ApiServer, start_loadtester: StartLoadTester) -> None:
    first = await start_loadtester(gates_configmap=CONFIGMAP)
    second = await start_loadtester(gates_configmap=CONFIGMAP)
    assert (await second.post("/gate/check", CANARY)).status == 403  # no ConfigMap yet: closed
    assert (await first.post("/gate/open", CANARY)).status == 202  # creates it
    reply = await second.post("/gate/check", CANARY)
    assert (reply.status, reply.body) == (200, b"Approved")
    assert (await second.post("/rollback/check", CANARY)).status == 403
    assert (await second.post("/rollback/open", CANARY)).status == 202  # patches it
    assert (await first.post("/rollback/check", CANARY)).status == 200
    assert (await second.post("/gate/close", CANARY)).status == 202
    assert (await first.post("/gate/check", CANARY)).status == 403
    assert await _data(kubeconfig) == {"podinfo.test": "false", "rollback.podinfo.test": "true"}


async def _data(apiserver: ApiServer) -> dict[str, str]:
    import asyncio

    return await asyncio.to_thread(_configmap_data, apiserver)


async def test_keys_that_are_not_configmap_keys_are_encoded(
    kubeconfig: ApiServer, start_loadtester: StartLoadTester
) -> None:
    tester = await start_loadtester(gates_configmap=CONFIGMAP)
    odd = {"name": "pod info/ü", "namespace": "test"}
    assert (await tester.post("/gate/open", odd)).status == 202
    assert (await tester.post("/gate/check", odd)).status == 200
    assert (await tester.post("/gate/check", CANARY)).status == 403
    key = configmap_key("pod info/ü.test")
    assert key.startswith("b64.")
    assert await _data(kubeconfig) == {key: "true"}


async def test_api_errors_answer_503(kubeconfig: ApiServer, start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(gates_configmap=CONFIGMAP)
    kubeconfig.faults.fail("get", "configmaps", 500)
    reply = await tester.post("/gate/check", CANARY)
    assert reply.status == 503
    assert reply.text.startswith("gate store unavailable: reading configmap default/flagman-gates: 500")
    kubeconfig.faults.fail("patch", "configmaps", 500)
    reply = await tester.post("/gate/open", CANARY)
    assert reply.status == 503 and "writing configmap default/flagman-gates: 500" in reply.text


async def test_unreachable_api_server_answers_503(
    start_loadtester: StartLoadTester, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from sandbox.apiserver.testing import kubeconfig_text

    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig_text("http://127.0.0.1:1"))
    monkeypatch.setenv("KUBECONFIG", str(config))
    tester = await start_loadtester(gates_configmap=CONFIGMAP)
    reply = await tester.post("/gate/check", CANARY)
    assert reply.status == 503 and reply.text.startswith("gate store unavailable:")


async def test_missing_credentials_answer_503(
    start_loadtester: StartLoadTester, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    tester = await start_loadtester(gates_configmap=CONFIGMAP)
    reply = await tester.post("/gate/open", CANARY)
    assert reply.status == 503 and reply.text.startswith("gate store unavailable: no Kubernetes credentials")
