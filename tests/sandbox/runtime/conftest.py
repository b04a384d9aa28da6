"""A runtime against the sandbox API server fixture, plus helpers to drive it with real kubectl."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.apiserver.testing import ApiServer, run_kubectl_args
from sandbox.runtime import Runtime, RuntimeSettings
from sandbox.runtime.kube import Kube
from sandbox.runtime.logs import PodLogReader


@dataclass
class Cluster:
    server: ApiServer
    kube: Kube
    runtime: Runtime
    state_dir: Path

    async def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = await asyncio.to_thread(
            subprocess.run,
            ["kubectl", *run_kubectl_args(self.server, *args)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.server.kubectl_env()},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    async def in_cluster(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run a shell script the way a pod would: with the cluster hosts file as /etc/hosts."""
        hosts = self.runtime.settings.hosts_file
        return await asyncio.to_thread(
            subprocess.run,
            [
                *("unshare", "--mount", "--propagation", "private", "--", "sh", "-c"),
                f'mount --bind "{hosts}" /etc/hosts && {script}',
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 30, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (it may raise AssertionError meanwhile)."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = await check()
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last_error}")


@pytest.fixture
async def cluster(apiserver: ApiServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    settings = RuntimeSettings(state_dir=tmp_path / "sandbox", second_octet=random.randint(60, 250))
    apiserver.set_pod_logs(PodLogReader(settings.log_dir))
    kube = Kube.from_url(apiserver.url)
    runtime = Runtime(kube, settings)
    await runtime.start()
    try:
        yield Cluster(server=apiserver, kube=kube, runtime=runtime, state_dir=settings.state_dir)
    finally:
        await runtime.stop()
        await kube.close()
