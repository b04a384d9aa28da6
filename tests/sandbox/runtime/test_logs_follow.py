"""`kubectl logs -f`: lines written after the request arrive, and the stream ends with the pod."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import pytest

from sandbox.apiserver.testing import run_kubectl_args
from sandbox.runtime.kube import PODS
from sandbox.runtime.logs import PodLogReader
from tests.sandbox.runtime.conftest import Cluster

#: Prints two lines, waits for the test to create `go` in the pod's working directory, prints a third.
TICKER = "echo zero; echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; exec sleep 3600"


def ticker_deployment() -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ticker", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "ticker"}},
                "template": {
                    "metadata": {"labels": {"app": "ticker"}},
                    "spec": {
                        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", TICKER]}]
                    },
                },
            },
        }
    )


@pytest.fixture
async def following(cluster: Cluster) -> AsyncIterator[Cluster]:
    cluster.server.runtime_hooks.log_follow = PodLogReader(cluster.runtime.settings.log_dir).follow
    yield cluster


async def start_kubectl(cluster: Cluster, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "kubectl",
        *run_kubectl_args(cluster.server, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **cluster.server.kubectl_env()},
    )


async def read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 30)).decode()


async def test_logs_follow_streams_new_lines_until_the_pod_is_deleted(following: Cluster) -> None:
    await following.kubectl("apply", "-f", "-", stdin=ticker_deployment())
    await following.kubectl("rollout", "status", "deployment/ticker", "--timeout=60s")
    pods = (await following.kube.list(PODS, "default"))["items"]
    pod = next(p["metadata"]["name"] for p in pods if p["metadata"].get("labels", {}).get("app") == "ticker")

    follow = await start_kubectl(following, "logs", "deployment/ticker", "-f", "--tail=1")
    try:
        assert await read_line(follow) == "first\n"  # --tail=1: "zero" is left out
        (following.state_dir / "pods" / "default" / pod / "go").touch()
        assert await read_line(follow) == "second\n"
        assert follow.returncode is None, "still following"
        await following.kubectl("delete", "pod", pod, "--wait=false")
        assert await asyncio.wait_for(follow.wait(), 30) == 0
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()


async def test_logs_follow_ends_when_the_container_terminates(following: Cluster) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 0.5; echo done"]}
            ],
        },
    }
    await following.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    follow = await start_kubectl(following, "logs", "-f", "once")
    stdout, stderr = await asyncio.wait_for(follow.communicate(), 30)
    assert follow.returncode == 0, stderr
    assert stdout == b"done\n"
