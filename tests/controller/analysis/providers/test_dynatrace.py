"""Dynatrace against a loopback stub of the metrics API v2 (``/api/v2/metrics/query``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.errors import AnalysisError, NoValuesError

from .conftest import Seen, ServerFactory, provider, record, serve

SECRET = {"dynatrace_token": "dt0c01.ABC"}
SELECTOR = 'builtin:service.response.time:filter(eq("dt.entity.service","SERVICE-1")):avg'


def metric_data(*values: list[float | None]) -> dict[str, Any]:
    """A ``GET /api/v2/metrics/query`` answer as Dynatrace documents it."""
    return {
        "totalCount": len(values),
        "nextPageKey": None,
        "resolution": "Inf",
        "result": [
            {
                "metricId": SELECTOR,
                "dataPointCountRatio": 0.0001,
                "dimensionCountRatio": 0.0001,
                "data": [
                    {
                        "dimensions": [f"SERVICE-{i}"],
                        "dimensionMap": {"dt.entity.service": f"SERVICE-{i}"},
                        "timestamps": [1796220060000],
                        "values": entry,
                    }
                    for i, entry in enumerate(values)
                ],
            }
        ],
    }


@dataclass
class DynatraceStub:
    answer: tuple[int, Any] = (200, metric_data([215.5]))
    seen: list[Seen] = field(default_factory=list)

    def _authorized(self, seen: Seen) -> bool:
        return seen.headers.get("Authorization") == "Api-Token dt0c01.ABC"

    async def query(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if not self._authorized(seen):
            return web.json_response(
                {"error": {"code": 401, "message": "Token Authentication failed"}}, status=401
            )
        status, body = self.answer
        return web.Response(status=status, text=body if isinstance(body, str) else json.dumps(body))

    async def metrics(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if not self._authorized(seen):
            return web.json_response(
                {"error": {"code": 401, "message": "Token Authentication failed"}}, status=401
            )
        return web.json_response(
            {"totalCount": 1, "nextPageKey": "x", "metrics": [{"metricId": "builtin:x"}]}
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/e/env1/api/v2/metrics/query", self.query)
        app.router.add_get("/e/env1/api/v2/metrics", self.metrics)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[DynatraceStub, str]:
    dynatrace = DynatraceStub()
    return dynatrace, await serve(aiohttp_server, dynatrace.app()) + "/e/env1"


async def test_selector_resolution_and_window_in_milliseconds(
    stub: tuple[DynatraceStub, str], session: aiohttp.ClientSession
) -> None:
    dynatrace, address = stub
    assert await provider(session, "dynatrace", address, SECRET, interval="30s").run_query(SELECTOR) == 215.5
    seen = dynatrace.seen[0]
    assert (seen.method, seen.path) == ("GET", "/e/env1/api/v2/metrics/query")
    assert (seen.query["metricSelector"], seen.query["resolution"]) == (SELECTOR, "Inf")
    to, start = int(seen.query["to"]), int(seen.query["from"])
    assert abs(to / 1000 - time.time()) < 5 and to - start == 300_000  # 10 x 30s


async def test_the_last_data_entry_wins(
    stub: tuple[DynatraceStub, str], session: aiohttp.ClientSession
) -> None:
    dynatrace, address = stub
    dynatrace.answer = (200, metric_data([1.0], [2.0, 3.0]))
    assert await provider(session, "dynatrace", address, SECRET).run_query(SELECTOR) == 2.0


@pytest.mark.parametrize("body", [{"result": []}, metric_data(), metric_data([]), metric_data([None])])
async def test_empty_results_and_null_values_mean_no_values(
    stub: tuple[DynatraceStub, str], session: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    dynatrace, address = stub
    dynatrace.answer = (200, body)
    with pytest.raises(NoValuesError, match="no values found"):
        await provider(session, "dynatrace", address, SECRET).run_query(SELECTOR)


async def test_errors(stub: tuple[DynatraceStub, str], session: aiohttp.ClientSession) -> None:
    dynatrace, address = stub
    with pytest.raises(QueryError, match=r"Token Authentication failed.*401 Unauthorized"):
        await provider(session, "dynatrace", address, {"dynatrace_token": "x"}).run_query(SELECTOR)
    dynatrace.answer = (429, {"error": {"code": 429, "message": "Too Many Requests"}})
    with pytest.raises(QueryError, match="429 Too Many Requests"):
        await provider(session, "dynatrace", address, SECRET).run_query(SELECTOR)
    dynatrace.answer = (200, "not json")
    with pytest.raises(QueryError, match="error unmarshaling result"):
        await provider(session, "dynatrace", address, SECRET).run_query(SELECTOR)


async def test_probe_lists_one_metric(
    stub: tuple[DynatraceStub, str], session: aiohttp.ClientSession
) -> None:
    dynatrace, address = stub
    await provider(session, "dynatrace", address, SECRET).check_online()
    assert (dynatrace.seen[-1].path, dynatrace.seen[-1].query) == (
        "/e/env1/api/v2/metrics",
        {"pageSize": "1"},
    )
    with pytest.raises(AnalysisError, match="Token Authentication failed"):
        await provider(session, "dynatrace", address, {"dynatrace_token": "x"}).check_online()


@pytest.mark.parametrize(
    ("address", "secret", "message"),
    [
        ("", SECRET, "dynatrace endpoint is not set"),
        ("https://env1.live.dynatrace.com", None, "dynatrace credentials does not contain dynatrace_token"),
    ],
)
def test_configuration_errors(address: str, secret: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "dynatrace", address, secret)  # type: ignore[arg-type]
