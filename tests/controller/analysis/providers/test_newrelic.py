"""New Relic against a loopback stub of the Insights query API (``/v1/accounts/{id}/query``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.errors import AnalysisError, NoValuesError

from .conftest import Seen, ServerFactory, provider, record, serve

SECRET = {"newrelic_account_id": "1234567", "newrelic_query_key": "NRIQ-abc"}
NRQL = (
    "SELECT filter(sum(nginx_ingress_controller_requests), WHERE status >= '500') / "
    "sum(nginx_ingress_controller_requests) * 100 FROM Metric WHERE ingress = 'podinfo'"
)


def insights(*results: dict[str, Any]) -> dict[str, Any]:
    """An Insights query answer as New Relic documents it."""
    return {
        "results": list(results),
        "metadata": {
            "eventTypes": ["Metric"],
            "eventType": "Metric",
            "openEnded": True,
            "beginTime": "2026-12-02T14:00:00Z",
            "endTime": "2026-12-02T14:01:00Z",
            "beginTimeMillis": 1796220000000,
            "endTimeMillis": 1796220060000,
            "rawSince": "60 SECONDS AGO",
            "rawUntil": "NOW",
            "rawCompareWith": "",
            "guid": "6ad3b2b1-0000-0000-0000-000000000000",
            "routerGuid": "6ad3b2b1-0000-0000-0000-000000000000",
            "messages": [],
            "contents": [{"function": "alias", "alias": "result"}],
        },
        "performanceStats": {"inspectedCount": 42, "wallClockTime": 12},
    }


@dataclass
class NewRelicStub:
    answer: tuple[int, Any] = (200, insights({"result": 2.5}))
    seen: list[Seen] = field(default_factory=list)

    async def query(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if request.match_info["account"] != "1234567":
            return web.json_response({"error": "Account not found"}, status=404)
        if seen.headers.get("X-Query-Key") != "NRIQ-abc":
            return web.json_response({"error": "Invalid query key"}, status=403)
        status, body = self.answer
        return web.Response(status=status, text=body if isinstance(body, str) else json.dumps(body))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/accounts/{account}/query", self.query)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[NewRelicStub, str]:
    newrelic = NewRelicStub()
    return newrelic, await serve(aiohttp_server, newrelic.app())


async def test_nrql_gets_the_interval_as_since_and_the_query_key(
    stub: tuple[NewRelicStub, str], session: aiohttp.ClientSession
) -> None:
    newrelic, address = stub
    assert await provider(session, "newrelic", address, SECRET, interval="90s").run_query(NRQL) == 2.5
    seen = newrelic.seen[0]
    assert (seen.method, seen.path) == ("GET", "/v1/accounts/1234567/query")
    assert seen.query == {"nrql": f"{NRQL} SINCE 90 seconds ago"}


async def test_a_single_aggregate_without_alias_is_used(
    stub: tuple[NewRelicStub, str], session: aiohttp.ClientSession
) -> None:
    newrelic, address = stub
    newrelic.answer = (200, insights({"average": 0.125}))
    assert await provider(session, "newrelic", address, SECRET).run_query("SELECT average(duration)") == 0.125


@pytest.mark.parametrize(
    "body",
    [
        insights(),
        insights({"result": None}),
        insights({"result": 1}, {"result": 2}),
        insights({"a": 1, "b": 2}),
    ],
)
async def test_no_single_result_means_no_values(
    stub: tuple[NewRelicStub, str], session: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    newrelic, address = stub
    newrelic.answer = (200, body)
    with pytest.raises(NoValuesError, match=r"invalid response: .*no values found"):
        await provider(session, "newrelic", address, SECRET).run_query(NRQL)


async def test_errors_rate_limits_and_malformed_bodies(
    stub: tuple[NewRelicStub, str], session: aiohttp.ClientSession
) -> None:
    newrelic, address = stub
    with pytest.raises(QueryError, match=r"Invalid query key.*403 Forbidden"):
        await provider(session, "newrelic", address, {**SECRET, "newrelic_query_key": "x"}).run_query(NRQL)
    newrelic.answer = (429, {"error": "Too many requests"})
    with pytest.raises(QueryError, match="429 Too Many Requests"):
        await provider(session, "newrelic", address, SECRET).run_query(NRQL)
    newrelic.answer = (200, "{truncated")
    with pytest.raises(QueryError, match="error unmarshaling result"):
        await provider(session, "newrelic", address, SECRET).run_query(NRQL)


async def test_probe_runs_a_trivial_nrql(
    stub: tuple[NewRelicStub, str], session: aiohttp.ClientSession
) -> None:
    newrelic, address = stub
    await provider(session, "newrelic", address, SECRET).check_online()
    assert newrelic.seen[-1].query["nrql"] == "SELECT * FROM Metric SINCE 60 seconds ago"
    with pytest.raises(AnalysisError, match="Account not found"):
        await provider(session, "newrelic", address, {**SECRET, "newrelic_account_id": "9"}).check_online()


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "newrelic credentials does not contain the key 'newrelic_account_id'"),
        ({"newrelic_account_id": "1"}, "newrelic credentials does not contain the key 'newrelic_query_key'"),
    ],
)
def test_missing_keys(secret: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "newrelic", "", secret)  # type: ignore[arg-type]
