"""The scale benches' cluster on loopback: the sandbox API server in its own process, N Deployments and
N Canaries (the tutorial's, without HPA and webhooks, `iterations` large enough never to finish), and the
steps every bench takes with them (wait until they all reach a phase, give every Deployment a new image).
`python -m bench.scale` (one controller) and `python -m bench.scale.sharded` (several) share it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp

from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, SECRETS, KubeApi
from tests.controller.integration.harness import PYTHON, REPO, free_port
from tests.controller.kube import objects
from tests.controller.kube.support import create_namespace, install_crds

HARNESS_AGENT = "flagman-bench"
NAMESPACE = "scale"
ITERATIONS = 1_000_000  # never finishes within a bench
CREATE_CONCURRENCY = 16


@contextlib.contextmanager
def apiserver_process(workdir: pathlib.Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    log = (workdir / "apiserver.log").open("wb")
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.scale.apiserver", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def wait_for(
    probe: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.5
) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)


def deployment(index: int) -> dict[str, Any]:
    body = objects.podinfo(replicas=1)
    name = f"app-{index}"
    body["metadata"] = {"name": name, "namespace": NAMESPACE, "labels": {"app": name}}
    body["spec"]["selector"] = {"matchLabels": {"app": name}}
    body["spec"]["template"]["metadata"]["labels"] = {"app": name}
    return body


def canary(index: int, interval: float) -> dict[str, Any]:
    body = objects.tutorial_canary(
        interval=f"{round(interval * 1000)}ms", name=f"app-{index}", target=f"app-{index}", webhooks=[]
    )
    body["metadata"]["namespace"] = NAMESPACE
    del body["spec"]["autoscalerRef"]
    body["spec"]["analysis"]["iterations"] = ITERATIONS
    return body


async def create_all(api: KubeApi, count: int, interval: float) -> None:
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def create(index: int) -> None:
        async with limit:
            await api.create(DEPLOYMENTS, NAMESPACE, deployment(index))
            await api.create(CANARIES, NAMESPACE, canary(index, interval))

    await asyncio.gather(*(create(index) for index in range(count)))


async def phases(api: KubeApi) -> collections.Counter[str]:
    listing = await api.list(CANARIES, NAMESPACE)
    return collections.Counter(
        str((item.get("status") or {}).get("phase") or "") for item in listing.get("items") or []
    )


async def new_revision(api: KubeApi, count: int) -> None:
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "podinfod", "image": "podinfo:2"}]}}}}

    async def one(index: int) -> None:
        async with limit:
            await api.request(
                "PATCH",
                DEPLOYMENTS.path(NAMESPACE, f"app-{index}"),
                body=copy.deepcopy(patch),
                content_type="application/strategic-merge-patch+json",
            )

    await asyncio.gather(*(one(index) for index in range(count)))


async def request_counts(session: aiohttp.ClientSession, url: str, since: int) -> tuple[int, dict[str, int]]:
    async with session.get(f"{url}/bench/requests", params={"since": str(since)}) as response:
        data = await response.json()
    return int(data["next"]), {key: int(value) for key, value in data["counts"].items()}


def answers(api: KubeApi) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            await api.request("GET", "/version")
        except Exception:  # not up yet
            return False
        return True

    return probe


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def prepare(api: KubeApi) -> None:
    """Once the API server answers: the CRDs, the namespace, and what every podinfo mounts."""
    await wait_for(answers(api), 20, "the API server")
    await install_crds(api)
    await create_namespace(api, NAMESPACE)
    await api.create(
        CONFIGMAPS,
        NAMESPACE,
        {**objects.podinfo_config(), "metadata": {"name": "podinfo-config", "namespace": NAMESPACE}},
    )
    await api.create(
        SECRETS,
        NAMESPACE,
        {**objects.podinfo_secret(), "metadata": {"name": "podinfo-secret", "namespace": NAMESPACE}},
    )
