"""Shared pieces of the provider tests: a client session, a loopback stub runner and a context builder.

Each provider has its own stub (in its test module) speaking that provider's documented API: it checks
what it receives (path, method, auth, query, time range) and answers with the documented shapes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from controller.analysis.providers import MetricsProvider, build_provider
from controller.api.templates import MetricProvider

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def serve(aiohttp_server: ServerFactory, app: web.Application) -> str:
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


@dataclass
class Seen:
    """What a stub received, for assertions after the call."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    at: float = field(default_factory=time.time)


async def record(request: web.Request, into: list[Seen]) -> Seen:
    seen = Seen(
        request.method, request.path, dict(request.query), dict(request.headers), await request.read()
    )
    into.append(seen)
    return seen


def provider(
    session: aiohttp.ClientSession,
    provider_type: str,
    address: str = "",
    secret: Mapping[str, str] | None = None,
    *,
    interval: str = "1m",
    **spec: Any,
) -> MetricsProvider:
    return build_provider(
        MetricProvider(type=provider_type, address=address, **spec), secret, session, interval=interval
    )
