"""Graphite against a loopback stub of the render API (``/render?target=...&format=json``)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.errors import AnalysisError, NoValuesError

from .conftest import Seen, ServerFactory, provider, record, serve

QUERY = """target=summarize(
    asPercent(sumSeries(stats.timers.podinfo.test.response.status.5xx.count), 100),
    '1min', 'avg')
&from=-1min"""


def render(*targets: tuple[str, list[list[Any]]]) -> list[dict[str, Any]]:
    """A render API answer with ``format=json``: one object per target, datapoints [value, timestamp]."""
    return [{"target": name, "tags": {"name": name}, "datapoints": points} for name, points in targets]


@dataclass
class GraphiteStub:
    answer: tuple[int, Any] = (200, render(("errors", [[None, 1796220000], [1.5, 1796220060]])))
    credentials: tuple[str, str] | None = None
    seen: list[Seen] = field(default_factory=list)

    async def render(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if seen.headers.get("Authorization") != expected:
                return web.Response(status=401, text="Unauthorized")
        if seen.query.get("format") != "json":
            return web.Response(status=400, text="format must be json for this test")
        if "target" not in seen.query:
            return web.Response(status=400, text="missing parameter: target")
        status, body = self.answer
        return web.Response(status=status, text=body if isinstance(body, str) else json.dumps(body))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/graphite/render", self.render)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[GraphiteStub, str]:
    graphite = GraphiteStub()
    return graphite, await serve(aiohttp_server, graphite.app()) + "/graphite"


async def test_render_query_is_collapsed_and_forced_to_json(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession
) -> None:
    graphite, address = stub
    assert await provider(session, "graphite", address).run_query(QUERY) == 1.5
    seen = graphite.seen[0]
    assert (seen.method, seen.path) == ("GET", "/graphite/render")
    assert seen.query["from"] == "-1min" and seen.query["format"] == "json"
    assert seen.query["target"] == (
        "summarize( asPercent(sumSeries(stats.timers.podinfo.test.response.status.5xx.count), 100), "
        "'1min', 'avg') "
    )
    assert "Authorization" not in seen.headers


async def test_basic_auth_from_the_secret(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession
) -> None:
    graphite, address = stub
    graphite.credentials = ("flagger", "s3cret")
    secret = {"username": "flagger", "password": "s3cret"}
    assert await provider(session, "graphite", address, secret).run_query("target=x") == 1.5
    with pytest.raises(QueryError, match="error response: Unauthorized"):
        await provider(session, "graphite", address).run_query("target=x")


async def test_string_values_and_the_last_non_null_point(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession
) -> None:
    graphite, address = stub
    graphite.answer = (200, render(("t", [["2.5", 1], [None, 2], ["3.25", 3], [None, 4]])))
    assert await provider(session, "graphite", address).run_query("target=t") == 3.25


async def test_several_targets_with_values_fail_naming_them(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession
) -> None:
    graphite, address = stub
    graphite.answer = (200, render(("a.b", [[1, 1]]), ("a.c", [[2, 1]]), ("a.d", [[None, 1]])))
    with pytest.raises(
        QueryError, match=r"query returned 2 targets with values, expected exactly one: a.b, a.c"
    ):
        await provider(session, "graphite", address).run_query("target=a.*")


@pytest.mark.parametrize("body", [[], render(("t", [])), render(("t", [[None, 1]]))])
async def test_no_datapoints_mean_no_values(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession, body: list[dict[str, Any]]
) -> None:
    graphite, address = stub
    graphite.answer = (200, body)
    with pytest.raises(NoValuesError, match=r"^no values found$"):
        await provider(session, "graphite", address).run_query("target=t")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "Internal Server Error: ValueError", "error response: Internal Server Error: ValueError"),
        (429, "slow down", "error response: slow down: 429 Too Many Requests"),
        (200, "[{", "error unmarshaling result"),
        (200, render(("t", [[1, 2, 3]])), "error unmarshaling data point"),
        (200, render(("t", [["abc", 2]])), 'parsing "abc"'),
    ],
)
async def test_errors_and_malformed_answers(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession, status: int, body: Any, message: str
) -> None:
    graphite, address = stub
    graphite.answer = (status, body)
    with pytest.raises(QueryError, match=message):
        await provider(session, "graphite", address).run_query("target=t")


async def test_probe_accepts_no_values_but_not_errors(
    stub: tuple[GraphiteStub, str], session: aiohttp.ClientSession
) -> None:
    graphite, address = stub
    graphite.answer = (200, [])
    await provider(session, "graphite", address).check_online()
    assert graphite.seen[-1].query == {"target": "test", "format": "json"}
    graphite.answer = (503, "down")
    with pytest.raises(AnalysisError, match="running query failed: error response: down"):
        await provider(session, "graphite", address).check_online()


@pytest.mark.parametrize(
    ("address", "secret", "message"),
    [
        ("", None, "graphite address  is not a valid URL"),
        ("http://graphite", {"password": "p"}, "graphite credentials does not contain a username"),
        ("http://graphite", {"username": "u"}, "graphite credentials does not contain a password"),
    ],
)
def test_configuration_errors(address: str, secret: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "graphite", address, secret)  # type: ignore[arg-type]
