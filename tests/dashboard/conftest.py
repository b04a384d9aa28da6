"""A Canary on the sandbox API server, the dashboard serving it, and (when present) headless Chromium."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from controller.kube.api import CANARIES, CONFIGMAPS, KubeApi
from dashboard.dashboard_cli import serve
from sandbox.apiserver.testing import ApiServer
from tests.controller.kube import objects
from tests.controller.kube.support import create_namespace, install_crds
from tests.dashboard.samples import two_runs

CHROMIUM = pathlib.Path(os.environ.get("FLAGMAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sandbox:
    api: KubeApi
    server: ApiServer
    canary: dict[str, Any]

    async def set_status(self, **fields: Any) -> None:
        """Write the Canary's status as the controller would (the status subresource)."""
        current = await self.api.get(CANARIES, "test", "podinfo")
        current["status"] = {**(current.get("status") or {}), **fields}
        await self.api.replace_status(CANARIES, "test", "podinfo", current)


@pytest.fixture
async def sandbox(apiserver: ApiServer) -> AsyncIterator[Sandbox]:
    api = await KubeApi.connect(apiserver.kubeconfig)
    await install_crds(api)
    await create_namespace(api, "test")
    canary = await api.create(CANARIES, "test", objects.tutorial_canary())
    await api.create(
        CONFIGMAPS,
        "test",
        {
            "metadata": {"name": "flagman-history-podinfo"},
            "data": {"history.json": json.dumps(two_runs())},
        },
    )
    sandbox = Sandbox(api, apiserver, canary)
    await sandbox.set_status(
        phase="Progressing", iterations=1, failedChecks=0, lastTransitionTime="2026-12-02T15:00:00Z"
    )
    yield sandbox
    await api.close()


@contextlib.asynccontextmanager
async def running_dashboard(kubeconfig: str, *, allow_actions: bool) -> AsyncIterator[str]:
    port = _free_port()
    args = argparse.Namespace(
        kubeconfig=kubeconfig, context=None, namespace=None, port=port, allow_actions=allow_actions
    )
    ready = asyncio.Event()
    task = asyncio.create_task(serve(args, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def chromium_or_skip() -> pathlib.Path:
    """Chromium and Playwright, or a skip saying what is missing (fails with FLAGMAN_REQUIRE_BROWSER=1)."""
    problem = ""
    if not CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is None:
        problem = f"{CHROMIUM} not found: apt-get install -y chromium"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ModuleNotFoundError:
            problem = "playwright not installed: pip install -e '.[dev]'"
    if problem:
        if os.environ.get("FLAGMAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FLAGMAN_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    return CHROMIUM


@pytest.fixture
def artefacts(tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> pathlib.Path:
    root = pathlib.Path(os.environ.get("FLAGMAN_ARTEFACTS") or tmp_path / "artefacts")
    directory = root / str(request.node.name)
    shutil.rmtree(directory, ignore_errors=True)  # this test's screenshots only, from this run only
    directory.mkdir(parents=True)
    print(f"screenshots in {directory}")
    return directory


@pytest.fixture
async def browser_context(tmp_path: pathlib.Path) -> AsyncIterator[object]:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),  # a fresh profile per test
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            await context.close()
