"""Starting the controller (`controller.wiring.Controller.start`) against the sandbox API server: an API
server that cannot answer yet is waited for, and /healthz says why; a missing CRD still fails at once."""

from __future__ import annotations

import asyncio
import pathlib
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from controller.errors import KubeError
from controller.kube.api import KubeApi
from controller.kube.backoff import Backoff
from controller.settings import Settings
from controller.wiring import Controller
from sandbox.apiserver.testing import ApiServer, kubeconfig_text
from tests.controller.kube.support import create_namespace, eventually, install_crds

FAST = Backoff(initial=0.02, jitter=0.0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(kubeconfig: str) -> Settings:
    return Settings(kubeconfig=kubeconfig, port=_free_port(), listen_address="127.0.0.1")


def _kubeconfig(directory: pathlib.Path, url: str) -> str:
    path = directory / "kubeconfig"
    path.write_text(kubeconfig_text(url))
    return str(path)


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.fixture
async def crds(apiserver: ApiServer) -> AsyncIterator[ApiServer]:
    client = await KubeApi.connect(apiserver.kubeconfig)
    await install_crds(client)
    await create_namespace(client, "test")
    await client.close()
    yield apiserver


def _lists(server: ApiServer, resource: str, since: int) -> list[int]:
    """The answers to the lists of `resource` from request `since` on."""
    return [r.status for r in list(server.request_log)[since:] if r.verb == "list" and r.resource == resource]


async def test_a_429_while_the_storage_initializes_is_retried_with_the_servers_retry_after(
    crds: ApiServer,
) -> None:
    message = "storage is (re)initializing"
    crds.faults.fail("list", "canaries", 429, times=3, message=message)
    started, since = time.monotonic(), len(crds.request_log)
    controller = await Controller.start(_settings(crds.kubeconfig), backoff=FAST)
    try:
        assert _lists(crds, "canaries", since) == [429, 429, 429, 200]
        assert time.monotonic() - started >= 3 * 1.0  # the 429s asked for 1 s each (retryAfterSeconds)
        assert await _get(f"http://127.0.0.1:{controller.settings.port}/healthz") == (200, "OK")
    finally:
        await controller.stop()


async def test_healthz_and_readyz_say_what_the_start_waits_for(crds: ApiServer) -> None:
    crds.faults.fail("list", "deployments", 503, times=1_000_000, message="etcdserver: leader changed")
    settings = _settings(crds.kubeconfig)
    starting = asyncio.create_task(Controller.start(settings, backoff=FAST))
    base = f"http://127.0.0.1:{settings.port}"

    async def waiting() -> str | None:
        status, text = await _get(f"{base}/healthz")
        return text if status == 503 else None

    text = await eventually(waiting, what="/healthz to report the wait")
    assert "waiting for the API server: list deployments: etcdserver: leader changed" in text
    status, text = await _get(f"{base}/readyz")
    assert status == 503 and "not ready" in text and "list deployments" in text
    assert not starting.done()

    crds.faults.clear()
    controller = await asyncio.wait_for(starting, timeout=10)
    try:
        assert await _get(f"{base}/healthz") == (200, "OK")
    finally:
        await controller.stop()


async def test_a_refused_connection_is_waited_for_and_the_wait_can_be_cancelled(
    tmp_path: pathlib.Path, crds: ApiServer
) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    settings = _settings(_kubeconfig(tmp_path, closed))
    starting = asyncio.create_task(Controller.start(settings, backoff=FAST))

    async def waiting() -> str | None:
        status, text = await _get(f"http://127.0.0.1:{settings.port}/healthz")
        return text if status == 503 and "waiting for the API server: list canaries" in text else None

    await eventually(waiting, what="/healthz to report the wait")
    starting.cancel()  # SIGTERM while waiting: everything started so far is taken down
    with pytest.raises(asyncio.CancelledError):
        await starting
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(f"http://127.0.0.1:{settings.port}/healthz")


async def test_missing_crds_still_fail_the_start_at_once(apiserver: ApiServer) -> None:
    settings = _settings(apiserver.kubeconfig)
    with pytest.raises(KubeError, match=r"install the CRDs \(kustomize/base/flagman/crd.yaml\) first"):
        await asyncio.wait_for(Controller.start(settings, backoff=FAST), timeout=10)
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(f"http://127.0.0.1:{settings.port}/healthz")  # the health server is down again
