"""Fixtures: the controller as a real process against the sandbox API server, a Prometheus stub and the
real load tester, all on loopback (see `harness.py`)."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from controller.kube.api import KubeApi
from sandbox.apiserver.testing import ApiServer
from tests.controller.integration.harness import (
    ControllerProcess,
    PrometheusStub,
    RolloutSimulator,
    start_loadtester,
    start_prometheus_stub,
)
from tests.controller.kube.support import create_namespace, eventually, install_crds


@pytest.fixture
async def prometheus() -> AsyncIterator[PrometheusStub]:
    stub, runner = await start_prometheus_stub()
    yield stub
    await runner.cleanup()


@pytest.fixture
def loadtester(tmp_path: pathlib.Path) -> Iterator[str]:
    process, url = start_loadtester(tmp_path / "loadtester.log")
    yield url
    process.stop()


# --- the whole bench ---------------------------------------------------------------------------------------


@dataclass
class Bench:
    server: ApiServer
    api: KubeApi
    prometheus: PrometheusStub
    loadtester: str
    rollouts: RolloutSimulator
    controller: ControllerProcess

    async def canary(self, name: str = "podinfo") -> dict[str, Any]:
        return await self.api.request("GET", f"/apis/flagger.app/v1beta1/namespaces/test/canaries/{name}")

    async def phase(self, name: str = "podinfo") -> str:
        return str(((await self.canary(name)).get("status") or {}).get("phase", ""))

    async def wait_phase(self, phase: str, name: str = "podinfo", within: float = 60.0) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            body = await self.canary(name)
            return body if (body.get("status") or {}).get("phase") == phase else None

        try:
            return await eventually(reached, within=within, interval=0.1, what=f"{name} phase {phase}")
        except AssertionError as error:
            events = "\n".join(await self.messages(name))
            raise AssertionError(
                f"{error}\n--- events ---\n{events}\n--- controller log ---\n{self.controller.log_tail()}"
            ) from None

    async def wait_message(self, message: str, name: str = "podinfo", within: float = 60.0) -> None:
        """Wait for an event (phase changes are written before the events that follow them)."""

        async def seen() -> bool:
            return message in await self.messages(name)

        try:
            await eventually(seen, within=within, interval=0.05, what=repr(message))
        except AssertionError as error:
            events = "\n".join(await self.messages(name))
            raise AssertionError(
                f"{error}\n--- events ---\n{events}\n--- controller log ---\n{self.controller.log_tail()}"
            ) from None

    async def events(self, name: str = "podinfo") -> list[tuple[str, str]]:
        """(type, message) of the Canary's events in the order they were written (core/v1 view)."""
        listing = await self.api.request("GET", "/api/v1/namespaces/test/events")
        items = [
            item
            for item in listing.get("items") or []
            if (item.get("involvedObject") or {}).get("name") == name
            and (item.get("involvedObject") or {}).get("kind") == "Canary"
        ]
        # Creation order: eventTime (microseconds) is set once; a series update bumps resourceVersion.
        items.sort(key=lambda item: str(item.get("eventTime") or ""))
        # A repeat of the previous message is counted into that event's series: expand it back.
        return [
            (item["type"], item["message"])
            for item in items
            for _ in range(int((item.get("series") or {}).get("count") or 1))
        ]

    async def messages(self, name: str = "podinfo") -> list[str]:
        return [message for _, message in await self.events(name)]


@pytest.fixture
async def bench(
    apiserver: ApiServer, prometheus: PrometheusStub, loadtester: str, tmp_path: pathlib.Path
) -> AsyncIterator[Bench]:
    api = await KubeApi.connect(apiserver.kubeconfig, user_agent="flagman-tests")
    await install_crds(api)
    await create_namespace(api, "test")
    rollouts = RolloutSimulator(api)
    await rollouts.start()
    controller = ControllerProcess(apiserver.kubeconfig, prometheus.url, tmp_path / "controller.log")
    setup = Bench(apiserver, api, prometheus, loadtester, rollouts, controller)
    try:
        yield setup
    finally:
        controller.stop()
        await rollouts.stop()
        await api.close()
        record_controller_requests(apiserver)


def record_controller_requests(server: ApiServer) -> None:
    """With FLAGMAN_CONTROLLER_REQUEST_LOG set, append the controller process's requests (its own client
    and kopf's) as JSON lines: tests/deploy/test_rbac.py then checks the RBAC against what was really sent."""
    target = os.environ.get("FLAGMAN_CONTROLLER_REQUEST_LOG")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as log:
        for record in list(server.request_log):
            if record.user_agent.startswith(("flagman-controller/", "kopf/")):
                log.write(
                    json.dumps({"method": record.method, "path": record.path, "query": record.query}) + "\n"
                )
