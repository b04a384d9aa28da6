"""InfluxDB 2.x against a loopback stub of ``POST /api/v2/query`` answering annotated CSV."""

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

SECRET = {"token": "influx-token", "org": "my-org"}
FLUX = (
    'from(bucket: "metrics") |> range(start: -1m) |> filter(fn: (r) => r._measurement == "errors") |> sum()'
)

# An annotated CSV answer as InfluxDB documents it (two tables; the first record's _value is used).
DOUBLE_TABLES = """#group,false,false,true,true,false,false,true,true
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string
#default,_result,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement
,,0,2026-12-02T14:00:00Z,2026-12-02T14:01:00Z,2026-12-02T14:01:00Z,1.75,rate,errors
,,1,2026-12-02T14:00:00Z,2026-12-02T14:01:00Z,2026-12-02T14:01:00Z,9,rate,other

"""
LONG_TABLE = """#group,false,false,false
#datatype,string,long,long
#default,_result,,
,result,table,_value
,,0,42

"""
NULL_VALUE = """#group,false,false,false
#datatype,string,long,double
#default,_result,,
,result,table,_value
,,0,

"""
STRING_VALUE = """#group,false,false,false
#datatype,string,long,string
#default,_result,,
,result,table,_value
,,0,hello

"""
FLUX_ERROR = """#datatype,string,string
#group,true,true
#default,,
,error,reference
,"runtime error @1:1-1:10: bucket ""nope"" not found",897

"""


@dataclass
class InfluxStub:
    answer: tuple[int, str, str] = (200, DOUBLE_TABLES, "text/csv")
    seen: list[Seen] = field(default_factory=list)

    async def query(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if seen.headers.get("Authorization") != "Token influx-token":
            return web.json_response({"code": "unauthorized", "message": "unauthorized access"}, status=401)
        if seen.query.get("org") != "my-org":
            return web.json_response(
                {"code": "not found", "message": 'organization name "x" not found'}, status=404
            )
        body: dict[str, Any] = json.loads(seen.body)
        if body.get("type") != "flux" or body.get("dialect", {}).get("annotations") != [
            "datatype",
            "group",
            "default",
        ]:
            return web.json_response({"code": "invalid", "message": "unexpected body"}, status=400)
        status, text, content_type = self.answer
        headers = {"Retry-After": "30"} if status == 429 else {}
        return web.Response(status=status, text=text, content_type=content_type, headers=headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v2/query", self.query)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[InfluxStub, str]:
    influx = InfluxStub()
    return influx, await serve(aiohttp_server, influx.app())


async def test_flux_is_posted_with_token_org_and_dialect(
    stub: tuple[InfluxStub, str], session: aiohttp.ClientSession
) -> None:
    influx, address = stub
    assert await provider(session, "influxdb", address, SECRET).run_query(FLUX) == 1.75
    seen = influx.seen[0]
    assert (seen.method, seen.path, seen.query) == ("POST", "/api/v2/query", {"org": "my-org"})
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": True},
        "query": FLUX,
        "type": "flux",
    }


async def test_integer_results_are_used(stub: tuple[InfluxStub, str], session: aiohttp.ClientSession) -> None:
    influx, address = stub
    influx.answer = (200, LONG_TABLE, "text/csv")
    assert await provider(session, "influxdb", address, SECRET).run_query(FLUX) == 42.0


@pytest.mark.parametrize("csv_text", ["", "\r\n", NULL_VALUE])
async def test_no_records_or_a_null_value_mean_no_values(
    stub: tuple[InfluxStub, str], session: aiohttp.ClientSession, csv_text: str
) -> None:
    influx, address = stub
    influx.answer = (200, csv_text, "text/csv")
    with pytest.raises(NoValuesError, match="no values found"):
        await provider(session, "influxdb", address, SECRET).run_query(FLUX)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, STRING_VALUE, "text/csv"), "invalid response: _value 'hello' is a string"),
        (
            (200, FLUX_ERROR, "text/csv"),
            r'query error: runtime error @1:1-1:10: bucket "nope" not found \(reference 897\)',
        ),
        ((429, "", "text/plain"), r"too many requests: exceeded rate limit \(retry after 30s\)"),
        ((500, "internal error", "text/plain"), "500 Internal Server Error: internal error"),
    ],
)
async def test_errors_in_status_and_stream(
    stub: tuple[InfluxStub, str], session: aiohttp.ClientSession, answer: tuple[int, str, str], message: str
) -> None:
    influx, address = stub
    influx.answer = answer
    with pytest.raises(QueryError, match=message):
        await provider(session, "influxdb", address, SECRET).run_query(FLUX)


async def test_wrong_token_reports_influxdbs_message(
    stub: tuple[InfluxStub, str], session: aiohttp.ClientSession
) -> None:
    _, address = stub
    with pytest.raises(
        QueryError, match="error accessing influxdb query api: unauthorized: unauthorized access"
    ):
        await provider(session, "influxdb", address, {"token": "bad", "org": "my-org"}).run_query(FLUX)


async def test_probe_queries_the_default_bucket(
    stub: tuple[InfluxStub, str], session: aiohttp.ClientSession
) -> None:
    influx, address = stub
    await provider(session, "influxdb", address, SECRET).check_online()
    assert json.loads(influx.seen[-1].body)["query"] == 'from(bucket: "default") |> range(start: -2h)'
    influx.answer = (200, FLUX_ERROR, "text/csv")
    with pytest.raises(AnalysisError, match="query error"):
        await provider(session, "influxdb", address, SECRET).check_online()


@pytest.mark.parametrize(
    ("address", "secret", "message"),
    [
        ("", SECRET, "influxdb address  is not a valid URL"),
        ("http://influx:8086", {"org": "o"}, "influxdb credentials does not contain an authentication token"),
        ("http://influx:8086", {"token": "t"}, "influxdb credentials does not contain an organisation"),
    ],
)
def test_configuration_errors(address: str, secret: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "influxdb", address, secret)  # type: ignore[arg-type]
