"""Datadog against a loopback stub of ``/api/v1/query`` and ``/api/v1/validate``."""

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

KEYS = {"datadog_api_key": "api-123", "datadog_application_key": "app-456"}
QUERY = "sum:istio.mesh.request.count{destination_workload:podinfo}.as_count()"


def timeseries(pointlist: list[list[Any]]) -> dict[str, Any]:
    """A ``GET /api/v1/query`` answer as Datadog documents it."""
    return {
        "status": "ok",
        "res_type": "time_series",
        "resp_version": 1,
        "query": QUERY,
        "from_date": 1700000000000,
        "to_date": 1700000600000,
        "series": [
            {
                "unit": None,
                "query_index": 0,
                "aggr": "sum",
                "metric": "istio.mesh.request.count",
                "tag_set": [],
                "expression": QUERY,
                "scope": "destination_workload:podinfo",
                "interval": 20,
                "length": len(pointlist),
                "start": 1700000000000,
                "end": 1700000600000,
                "pointlist": pointlist,
                "display_name": "istio.mesh.request.count",
                "attributes": {},
            }
        ]
        if pointlist
        else [],
        "values": [],
        "times": [],
        "message": "",
        "group_by": [],
    }


@dataclass
class DatadogStub:
    answer: tuple[int, Any, dict[str, str]] = (200, timeseries([[1700000000000.0, 4.5]]), {})
    seen: list[Seen] = field(default_factory=list)

    async def query(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if (seen.headers.get("DD-API-KEY"), seen.headers.get("DD-APPLICATION-KEY")) != ("api-123", "app-456"):
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        if set(seen.query) != {"query", "from", "to"}:
            return web.json_response({"errors": ["missing query, from or to"]}, status=400)
        status, body, headers = self.answer
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    async def validate(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if seen.headers.get("DD-API-KEY") != "api-123":
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        return web.json_response({"valid": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/dd/api/v1/query", self.query)
        app.router.add_get("/dd/api/v1/validate", self.validate)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[DatadogStub, str]:
    datadog = DatadogStub()
    return datadog, await serve(aiohttp_server, datadog.app()) + "/dd"


async def test_query_keys_and_window_of_ten_intervals(
    stub: tuple[DatadogStub, str], session: aiohttp.ClientSession
) -> None:
    datadog, address = stub
    value = await provider(session, "datadog", address, KEYS, interval="2m").run_query(QUERY)
    assert value == 4.5
    seen = datadog.seen[0]
    assert (seen.method, seen.path, seen.query["query"]) == ("GET", "/dd/api/v1/query", QUERY)
    to, start = int(seen.query["to"]), int(seen.query["from"])
    assert abs(to - time.time()) < 5 and to - start == 1200  # 10 x 2m


async def test_first_non_null_point_of_the_first_series_wins(
    stub: tuple[DatadogStub, str], session: aiohttp.ClientSession
) -> None:
    datadog, address = stub
    datadog.answer = (200, timeseries([[1.0, None], [2.0, 7.25], [3.0, 99.0]]), {})
    assert await provider(session, "datadog", address, KEYS).run_query(QUERY) == 7.25


@pytest.mark.parametrize("pointlist", [[], [[1.0, None]], [[1.0]]])
async def test_no_series_or_no_points_mean_no_values(
    stub: tuple[DatadogStub, str], session: aiohttp.ClientSession, pointlist: list[list[Any]]
) -> None:
    datadog, address = stub
    datadog.answer = (200, timeseries(pointlist), {})
    with pytest.raises(NoValuesError, match="no values found"):
        await provider(session, "datadog", address, KEYS).run_query(QUERY)


async def test_wrong_keys_rate_limit_and_malformed_bodies_are_query_errors(
    stub: tuple[DatadogStub, str], session: aiohttp.ClientSession
) -> None:
    datadog, address = stub
    wrong = {**KEYS, "datadog_api_key": "nope"}
    with pytest.raises(QueryError, match=r'error response: \{"errors": \["Forbidden"\]\}: 403 Forbidden'):
        await provider(session, "datadog", address, wrong).run_query(QUERY)
    datadog.answer = (
        429,
        {"errors": ["Rate limit of 300 requests in 3600 seconds reached."]},
        {"Retry-After": "7"},
    )
    with pytest.raises(QueryError, match=r"Rate limit of 300.*429 Too Many Requests \(retry after 7s\)"):
        await provider(session, "datadog", address, KEYS).run_query(QUERY)
    datadog.answer = (200, "<html>gateway</html>", {})
    with pytest.raises(QueryError, match=r"error unmarshaling result: .*'<html>gateway</html>'"):
        await provider(session, "datadog", address, KEYS).run_query(QUERY)
    datadog.answer = (200, {"status": "error", "error": "Error parsing query: unable to parse sum:"}, {})
    with pytest.raises(QueryError, match="Error parsing query"):
        await provider(session, "datadog", address, KEYS).run_query(QUERY)


async def test_probe_validates_the_keys(
    stub: tuple[DatadogStub, str], session: aiohttp.ClientSession
) -> None:
    datadog, address = stub
    await provider(session, "datadog", address, KEYS).check_online()
    assert datadog.seen[-1].path == "/dd/api/v1/validate"
    with pytest.raises(AnalysisError, match="403 Forbidden"):
        await provider(session, "datadog", address, {**KEYS, "datadog_api_key": "x"}).check_online()


async def test_unreachable_server_is_a_query_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(QueryError, match=r"request failed: GET http://127.0.0.1:9/api/v1/query"):
        await provider(session, "datadog", "http://127.0.0.1:9", KEYS).run_query(QUERY)


@pytest.mark.parametrize(
    ("secret", "interval", "message"),
    [
        (None, "1m", "datadog credentials does not contain datadog_api_key"),
        ({"datadog_api_key": "a"}, "1m", "datadog credentials does not contain datadog_application_key"),
        (KEYS, "soon", 'error parsing metric interval: time: invalid duration "soon"'),
    ],
)
def test_configuration_errors(secret: dict[str, str] | None, interval: str, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "datadog", "", secret, interval=interval)  # type: ignore[arg-type]


def test_default_address_is_datadogs_api() -> None:
    built = provider(None, "datadog", "", KEYS)  # type: ignore[arg-type]
    assert str(built._query_url) == "https://api.datadoghq.com/api/v1/query"  # type: ignore[attr-defined]
