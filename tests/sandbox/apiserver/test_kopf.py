"""A tiny kopf operator (a daemon, a finalizer, events) against the API server."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import kopf
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.apiserver.testing import ApiServer

from .conftest import install_flagger_crds
from .test_python_client import canary

MERGE = "application/merge-patch+json"


class Operator:
    """What the handlers saw: daemon starts/stops and raw watch events, per canary name.

    kopf runs in its own thread and loop (like ``kopf.testing.KopfRunner``): on exit it cancels every
    task of its loop that it did not start, which would include the test's own tasks.
    """

    def __init__(self) -> None:
        self.started: dict[str, threading.Event] = {}
        self.stopped: dict[str, threading.Event] = {}
        self.watched: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def flag(self, flags: dict[str, threading.Event], name: str) -> threading.Event:
        with self._lock:
            return flags.setdefault(name, threading.Event())

    async def wait(self, flags: dict[str, threading.Event], name: str, within: float = 10) -> None:
        flag = self.flag(flags, name)
        if not await asyncio.to_thread(flag.wait, within):
            raise AssertionError(f"{name}: flag not set within {within} s")


def build_registry(operator: Operator, server: ApiServer) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server.url, insecure=True)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.peering.standalone = True
        settings.watching.server_timeout = 10
        settings.watching.reconnect_backoff = 0.05
        settings.posting.level = logging.INFO
        settings.networking.request_timeout = 10

    @kopf.daemon("flagger.app", "v1beta1", "canaries", registry=registry, cancellation_timeout=5)
    async def analysis_loop(name: str, body: Any, stopped: Any, **_: Any) -> None:
        kopf.info(body, reason="Started", message=f"analysis of {name} started")
        operator.flag(operator.started, name).set()
        try:
            await stopped.wait()
        finally:  # kopf either flags `stopped` or cancels the task on deletion
            operator.flag(operator.stopped, name).set()

    @kopf.on.event("flagger.app", "v1beta1", "canaries", registry=registry)
    def record(event: dict[str, Any], name: str, **_: Any) -> None:
        operator.watched.append((event.get("type") or "LISTED", name))

    return registry


@pytest.fixture
async def running_operator(apiserver: ApiServer, api_client: client.ApiClient) -> AsyncIterator[Operator]:
    await install_flagger_crds(api_client)
    operator = Operator()
    registry = build_registry(operator, apiserver)
    stop, ready = threading.Event(), threading.Event()

    def run() -> None:
        asyncio.run(
            kopf.operator(
                registry=registry, clusterwide=True, standalone=True, stop_flag=stop, ready_flag=ready
            )
        )

    thread = threading.Thread(target=run, name="kopf", daemon=True)
    thread.start()
    assert await asyncio.to_thread(ready.wait, 10), "kopf did not become ready"
    yield operator
    stop.set()
    await asyncio.to_thread(thread.join, 15)
    assert not thread.is_alive(), "kopf did not stop within 15 s"


async def eventually(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_daemon_finalizer_and_events(
    running_operator: Operator, api_client: client.ApiClient, apiserver: ApiServer
) -> None:
    custom = client.CustomObjectsApi(api_client)
    core = client.CoreV1Api(api_client)
    await custom.create_namespaced_custom_object("flagger.app", "v1beta1", "default", "canaries", canary())
    await running_operator.wait(running_operator.started, "podinfo")

    async def has_finalizer() -> bool:
        obj = await custom.get_namespaced_custom_object(
            "flagger.app", "v1beta1", "default", "canaries", "podinfo"
        )
        return bool(obj["metadata"].get("finalizers"))

    await eventually(has_finalizer)

    async def event_posted() -> bool:
        events = await core.list_namespaced_event("default", field_selector="involvedObject.name=podinfo")
        return any(e.reason == "Started" for e in events.items)

    await eventually(event_posted)
    events = await core.list_namespaced_event("default", field_selector="involvedObject.name=podinfo")
    started = [e for e in events.items if e.reason == "Started"]
    assert started[0].metadata.name.startswith("kopf-event-")  # kopf posts with generateName
    assert started[0].involved_object.kind == "Canary"

    await custom.delete_namespaced_custom_object("flagger.app", "v1beta1", "default", "canaries", "podinfo")
    await running_operator.wait(running_operator.stopped, "podinfo")

    async def deleted() -> bool:
        try:
            await custom.get_namespaced_custom_object(
                "flagger.app", "v1beta1", "default", "canaries", "podinfo"
            )
        except ApiException as exc:
            return exc.status == 404
        return False

    await eventually(deleted)


async def test_dropped_watch_is_reconnected(
    running_operator: Operator, api_client: client.ApiClient, apiserver: ApiServer
) -> None:
    custom = client.CustomObjectsApi(api_client)
    await custom.create_namespaced_custom_object(
        "flagger.app", "v1beta1", "default", "canaries", canary("first")
    )
    await running_operator.wait(running_operator.started, "first")

    watches_before = len(
        apiserver.request_log.matching("GET", "/apis/flagger.app/v1beta1/canaries", verb="watch")
    )
    apiserver.faults.drop_watches("canaries")
    await custom.create_namespaced_custom_object(
        "flagger.app", "v1beta1", "default", "canaries", canary("second")
    )
    await running_operator.wait(running_operator.started, "second")

    watches_after = apiserver.request_log.matching("GET", "/apis/flagger.app/v1beta1/canaries", verb="watch")
    assert len(watches_after) > watches_before, "kopf did not open a new watch after the drop"
    assert ("ADDED", "second") in running_operator.watched or (
        "MODIFIED",
        "second",
    ) in running_operator.watched
