"""Fixtures: the controller as a real process against an API server, a Prometheus stub and the real load
tester, all on loopback (see `harness.py`).

Every test taking `bench` runs twice: against the sandbox emulator and against the real control plane
(`backends.py`; the real one skips without `make control-plane`, or fails with
FLAGMAN_REQUIRE_REAL_BACKEND=1). A test marked `emulator_only` needs what only the emulator offers (its
request log, injected faults) and runs once.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from controller.kube.api import KubeApi, Resource
from sandbox.apiserver.testing import ApiServer
from sandbox.controlplane import ControlPlane
from tests.controller.integration.backends import RealCluster, Rollouts, Target, prepare_real_cluster
from tests.controller.integration.harness import (
    ControllerProcess,
    PrometheusStub,
    RolloutSimulator,
    start_loadtester,
    start_prometheus_stub,
)
from tests.controller.integration.node import NodeSimulator
from tests.controller.kube.support import create_namespace, eventually, install_crds

BACKENDS = ("emulator", "real")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator_only: needs the sandbox emulator's request log or faults (no real-backend run)"
    )


#: Modules whose tests still assume the emulator's namespace `test` (not yet written with `bench.ns` and
#: `bench.create`): they run on the emulator only until ported.
EMULATOR_ONLY_MODULES = {"test_providers"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        only = module in EMULATOR_ONLY_MODULES
        only = only or metafunc.definition.get_closest_marker("emulator_only") is not None
        metafunc.parametrize("backend", ["emulator"] if only else list(BACKENDS), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def real_cluster(control_plane: ControlPlane) -> RealCluster:
    """The real control plane with Flagger's CRDs and the chart's RBAC, once per session."""
    return prepare_real_cluster(control_plane)


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
    target: Target
    api: KubeApi
    prometheus: PrometheusStub
    loadtester: str
    rollouts: Rollouts
    controller: ControllerProcess

    @property
    def ns(self) -> str:
        """The test's namespace: `test` on the emulator, a fresh one on the real control plane."""
        return self.target.namespace

    @property
    def server(self) -> ApiServer:
        """The emulator (its request log and faults): only in tests marked `emulator_only`."""
        assert self.target.server is not None, "this test needs the emulator: mark it emulator_only"
        return self.target.server

    async def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        """Create `body` in the test's namespace (whatever namespace its metadata names)."""
        body = {**body, "metadata": {**body.get("metadata", {}), "namespace": self.ns}}
        return await self.api.create(resource, self.ns, body)

    async def canary(self, name: str = "podinfo") -> dict[str, Any]:
        return await self.api.request(
            "GET", f"/apis/flagger.app/v1beta1/namespaces/{self.ns}/canaries/{name}"
        )

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
        listing = await self.api.request("GET", f"/api/v1/namespaces/{self.ns}/events")
        items = [
            item
            for item in listing.get("items") or []
            if (item.get("involvedObject") or {}).get("name") == name
            and (item.get("involvedObject") or {}).get("kind") == "Canary"
        ]
        # Creation order: eventTime (microseconds) is set once; a series update bumps resourceVersion.
        items.sort(key=lambda item: str(item.get("eventTime") or ""))
        # A repeat of the previous message is counted into that event's series (events.k8s.io) or its
        # count (core/v1 events): expand it back.
        return [
            (item["type"], item["message"])
            for item in items
            for _ in range(int((item.get("series") or {}).get("count") or item.get("count") or 1))
        ]

    async def messages(self, name: str = "podinfo") -> list[str]:
        return [message for _, message in await self.events(name)]


@pytest.fixture
async def bench(
    backend: str,
    request: pytest.FixtureRequest,
    prometheus: PrometheusStub,
    loadtester: str,
    tmp_path: pathlib.Path,
) -> AsyncIterator[Bench]:
    rollouts: Rollouts
    if backend == "emulator":
        server: ApiServer = request.getfixturevalue("apiserver")
        target = Target.emulator(server)
        api = await KubeApi.connect(target.admin_kubeconfig, user_agent="flagman-tests")
        await install_crds(api)
        await create_namespace(api, target.namespace)
        rollouts = RolloutSimulator(api)
    else:
        cluster: RealCluster = request.getfixturevalue("real_cluster")
        target = Target.real(cluster, request.getfixturevalue("real_namespace"))
        api = await KubeApi.connect(target.admin_kubeconfig, user_agent="flagman-tests")
        rollouts = NodeSimulator(api, f"node-{target.namespace}", target.namespace)
    await rollouts.start()
    controller = ControllerProcess(target.controller_kubeconfig, prometheus.url, tmp_path / "controller.log")
    setup = Bench(target, api, prometheus, loadtester, rollouts, controller)
    try:
        yield setup
    finally:
        controller.stop()
        await rollouts.stop()
        await api.close()
        if target.server is not None:
            record_controller_requests(target.server)


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
