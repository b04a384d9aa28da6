"""Loopback servers and in-memory sources shared by the analysis and webhook tests."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from controller.api.canary import Canary
from controller.api.templates import MetricTemplate
from controller.errors import NotFoundError
from tests.data import tutorial


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """A loopback HTTP server whose answers the test decides, recording every request."""

    respond: Callable[[web.Request], Awaitable[web.StreamResponse]]
    requests: list[RecordedRequest] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        return await self.respond(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def prometheus_vector(*values: str, labels: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A Prometheus instant-query answer with one sample per value."""
    series = []
    for index, value in enumerate(values):
        metric = labels[index] if labels else {}
        series.append({"metric": metric, "value": [1700000000.123, value]})
    return {"status": "success", "data": {"resultType": "vector", "result": series}}


def self_signed_context(directory: Path, host: str = "127.0.0.1") -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for ``host`` (made with openssl)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=IP:{host}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def start_https(app: web.Application, context: ssl.SSLContext) -> tuple[web.AppRunner, str]:
    """Serve ``app`` over HTTPS on a free loopback port; returns the runner and the base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    (address,) = runner.addresses
    return runner, f"https://127.0.0.1:{address[1]}"


class InMemoryTemplates:
    """TemplateSource over a dict of ``(namespace, name) -> MetricTemplate body``."""

    def __init__(self, bodies: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> None:
        self.bodies = dict(bodies or {})
        self.reads: list[tuple[str, str]] = []

    async def get_template(self, namespace: str, name: str) -> MetricTemplate:
        self.reads.append((namespace, name))
        body = self.bodies.get((namespace, name))
        if body is None:
            raise NotFoundError(f'metrictemplates.flagger.app "{name}" not found')
        return MetricTemplate.from_dict(body)


class InMemorySecrets:
    """SecretSource over a dict of ``(namespace, name) -> data``."""

    def __init__(self, secrets: Mapping[tuple[str, str], Mapping[str, str]] | None = None) -> None:
        self.secrets = dict(secrets or {})

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        data = self.secrets.get((namespace, name))
        if data is None:
            raise NotFoundError(f'secrets "{name}" not found')
        return data


def tutorial_canary(**analysis_overrides: Any) -> Canary:
    """The tutorial's Canary (``podinfo`` in ``test``), with analysis fields overridable."""
    body = tutorial.canary()
    body["spec"]["analysis"].update(analysis_overrides)
    return Canary.from_dict(body)


def metric_template(name: str, query: str, address: str, **provider: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"provider": {"type": "prometheus", "address": address, **provider}, "query": query},
    }
