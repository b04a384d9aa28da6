"""Loopback stand-ins both controllers share: a Prometheus stub answering per target, and a webhook recorder
in front of the real load tester (it keeps every payload, then forwards the request unchanged)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from controller.errors import ConflictError
from controller.kube.api import KubeApi
from tests.controller.integration.harness import PrometheusStub, free_port, start_prometheus_stub
from tests.controller.kube.support import CRD_FILE, CRD_PATH, eventually


@dataclass
class TargetPrometheus(PrometheusStub):
    """The integration tests' stub, plus a success rate per target (a scenario's Deployment name)."""

    success_rate_by_target: dict[str, float] = field(default_factory=dict)

    def answer(self, query: str) -> float | None:
        if 'status!~"5.*"' in query:
            for target, rate in self.success_rate_by_target.items():
                if f'=~"{target}-[' in query:
                    return rate
        return super().answer(query)


async def start_prometheus() -> tuple[TargetPrometheus, web.AppRunner]:
    stub = TargetPrometheus()
    _, runner = await start_prometheus_stub(stub)
    return stub, runner


@dataclass(frozen=True)
class Delivery:
    """One webhook call as the controller sent it, and what the load tester answered."""

    at: float
    path: str
    payload: dict[str, Any]
    status: int


@dataclass
class WebhookRecorder:
    """POST <recorder>/<path> is recorded, then sent to <load tester>/<path>; the answer goes back as is."""

    loadtester: str
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {"<unparsable>": body.decode(errors="replace")}
        assert self._session is not None
        async with self._session.post(
            self.loadtester.rstrip("/") + request.path,
            data=body,
            headers={"Content-Type": "application/json"},
        ) as answer:
            text = await answer.read()
            status = answer.status
        self.deliveries.append(Delivery(time.monotonic(), request.path, payload, status))
        return web.Response(status=status, body=text)

    def for_canary(self, namespace: str, name: str) -> list[Delivery]:
        return [
            d
            for d in self.deliveries
            if d.payload.get("namespace") == namespace and d.payload.get("name") == name
        ]


async def start_recorder(loadtester: str) -> tuple[WebhookRecorder, web.AppRunner]:
    recorder = WebhookRecorder(loadtester)
    recorder._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)

    async def close_session(_: web.Application) -> None:
        assert recorder._session is not None
        await recorder._session.close()

    app.on_cleanup.append(close_session)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    recorder.url = f"http://127.0.0.1:{port}"
    return recorder, runner


async def ensure_crds(api: KubeApi) -> None:
    """Flagger's CRDs from the charts' single source, created unless there (both runs share a server)."""
    for document in yaml.safe_load_all(CRD_FILE.read_text()):
        if document:
            with contextlib.suppress(ConflictError):
                await api.request("POST", CRD_PATH, body=document)
    for plural in ("canaries", "metrictemplates", "alertproviders"):
        await eventually(lambda p=plural: api.request("GET", f"/apis/flagger.app/v1beta1/{p}"), what=plural)  # type: ignore[misc]
