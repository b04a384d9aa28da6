"""Splunk Observability against a loopback SignalFlow WebSocket stub and ``/v2/metric`` probe stub.

The stub checks the authenticate and execute messages, then streams what SignalFlow sends: control
messages, metadata, binary data messages (optionally gzip-compressed) and END_OF_CHANNEL.
"""

from __future__ import annotations

import gzip
import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.analysis.providers.splunk import stream_url, validation_url
from controller.errors import AnalysisError, NoValuesError

from .conftest import ServerFactory, provider, serve

SECRET = {"sf_token_key": "sf-token"}
PROGRAM = "data('demo.trans.latency', filter=filter('app', 'podinfo')).mean().publish()"


def data_message(channel: str, points: list[tuple[int, int, bytes]], *, compressed: bool = False) -> bytes:
    """A binary SignalFlow data message: header, timestamp, count, then (type, tsid, value) triples."""
    body = struct.pack(">QI", 1796220060000, len(points))
    body += b"".join(struct.pack(">BQ8s", kind, tsid, raw) for kind, tsid, raw in points)
    if compressed:
        body = gzip.compress(body)
    return struct.pack(">BBBB16s", 1, 5, 1 if compressed else 0, 0, channel.encode()) + body


def double(value: float) -> bytes:
    return struct.pack(">d", value)


def long(value: int) -> bytes:
    return struct.pack(">q", value)


@dataclass
class SignalFlowStub:
    points: list[list[tuple[int, int, bytes]]] = field(
        default_factory=lambda: [[(2, 7, double(1.5))], [(2, 7, double(2.5))]]
    )
    compressed: bool = False
    error: dict[str, Any] | None = None
    executes: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, str]] = field(default_factory=list)

    async def connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        auth = json.loads((await ws.receive()).data)
        if auth != {"type": "authenticate", "token": "sf-token"}:
            await ws.send_json(
                {"type": "error", "error": 401, "errorType": "AUTH_FAILED", "message": "Unauthorized"}
            )
            await ws.close()
            return ws
        await ws.send_json({"type": "authenticated", "orgId": "ORG", "userId": "USER"})
        execute = json.loads((await ws.receive()).data)
        self.executes.append(execute)
        channel = execute["channel"]
        await ws.send_json({"type": "control-message", "channel": channel, "event": "STREAM_START"})
        await ws.send_json(
            {"type": "control-message", "channel": channel, "event": "JOB_START", "handle": "H1"}
        )
        if self.error is not None:
            await ws.send_json({"type": "error", "channel": channel, **self.error})
        else:
            await ws.send_json(
                {
                    "type": "metadata",
                    "channel": channel,
                    "tsId": "AAAAAAAAAAc",
                    "properties": {"app": "podinfo"},
                }
            )
            for batch in self.points:
                await ws.send_bytes(data_message(channel, batch, compressed=self.compressed))
            await ws.send_json({"type": "control-message", "channel": channel, "event": "END_OF_CHANNEL"})
        await ws.close()
        return ws

    async def metric(self, request: web.Request) -> web.Response:
        self.probes.append({"token": request.headers.get("X-SF-Token", ""), **request.query})
        if request.headers.get("X-SF-Token") != "sf-token":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"count": 1, "results": [{"name": "demo.trans.latency"}]})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/signalflow/connect", self.connect)
        app.router.add_get("/v2/metric", self.metric)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[SignalFlowStub, str]:
    signalflow = SignalFlowStub()
    return signalflow, await serve(aiohttp_server, signalflow.app())


async def test_execute_request_and_last_value(
    stub: tuple[SignalFlowStub, str], session: aiohttp.ClientSession
) -> None:
    signalflow, address = stub
    assert await provider(session, "splunk", address, SECRET, interval="1m").run_query(PROGRAM) == 2.5
    execute = signalflow.executes[0]
    assert (execute["type"], execute["program"], execute["immediate"]) == ("execute", PROGRAM, True)
    assert execute["stop"] - execute["start"] == 600_000
    assert abs(execute["stop"] / 1000 - time.time()) < 5


async def test_compressed_messages_and_integer_types(
    stub: tuple[SignalFlowStub, str], session: aiohttp.ClientSession
) -> None:
    signalflow, address = stub
    signalflow.compressed = True
    signalflow.points = [[(2, 9, double(0.5))], [(1, 9, long(42))]]
    assert await provider(session, "splunk", address, SECRET).run_query(PROGRAM) == 42.0
    signalflow.points = [[(3, 9, struct.pack(">i", -3) + b"\0\0\0\0")]]
    assert await provider(session, "splunk", address, SECRET).run_query(PROGRAM) == -3.0


async def test_several_time_series_fail(
    stub: tuple[SignalFlowStub, str], session: aiohttp.ClientSession
) -> None:
    signalflow, address = stub
    signalflow.points = [[(2, 1, double(1.0)), (2, 2, double(2.0))]]
    with pytest.raises(QueryError, match="invalid response: query returned multiple values"):
        await provider(session, "splunk", address, SECRET).run_query(PROGRAM)


@pytest.mark.parametrize("points", [[], [[(9, 1, double(1.0))]]])
async def test_no_data_means_no_values(
    stub: tuple[SignalFlowStub, str],
    session: aiohttp.ClientSession,
    points: list[list[tuple[int, int, bytes]]],
) -> None:
    signalflow, address = stub
    signalflow.points = points
    with pytest.raises(NoValuesError, match="no values found"):
        await provider(session, "splunk", address, SECRET).run_query(PROGRAM)


async def test_computation_and_authentication_errors_end_the_query_at_once(
    stub: tuple[SignalFlowStub, str], session: aiohttp.ClientSession
) -> None:
    signalflow, address = stub
    signalflow.error = {
        "error": 400,
        "errorType": "ANALYTICS_PROGRAM_NAME_ERROR",
        "message": "'dta' is not defined",
    }
    with pytest.raises(
        QueryError, match=r"error executing query: 400 \(ANALYTICS_PROGRAM_NAME_ERROR\): 'dta'"
    ):
        await provider(session, "splunk", address, SECRET).run_query(PROGRAM)
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"401 \(AUTH_FAILED\): Unauthorized"):
        await provider(session, "splunk", address, {"sf_token_key": "wrong"}).run_query(PROGRAM)
    assert time.monotonic() - started < 2


async def test_unreachable_stream_is_a_query_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(QueryError, match=r"error executing query: ws://127.0.0.1:9/v2/signalflow/connect"):
        await provider(session, "splunk", "http://127.0.0.1:9", SECRET).run_query(PROGRAM)


async def test_probe_lists_one_metric(
    stub: tuple[SignalFlowStub, str], session: aiohttp.ClientSession
) -> None:
    signalflow, address = stub
    await provider(session, "splunk", address, SECRET).check_online()
    assert signalflow.probes == [{"token": "sf-token", "limit": "1"}]
    with pytest.raises(AnalysisError, match=r"Unauthorized.*401"):
        await provider(session, "splunk", address, {"sf_token_key": "x"}).check_online()


def test_stream_and_api_urls_follow_the_realm_convention() -> None:
    assert (
        str(stream_url("https://api.us1.signalfx.com"))
        == "wss://stream.us1.signalfx.com/v2/signalflow/connect"
    )
    assert (
        str(validation_url("wss://stream.us1.signalfx.com"))
        == "https://api.us1.signalfx.com/v2/metric?limit=1"
    )


@pytest.mark.parametrize(
    ("address", "secret", "message"),
    [
        ("", SECRET, "splunk endpoint is not set"),
        ("https://api.us1.signalfx.com", {}, "does not contain sf_token_key"),
    ],
)
def test_configuration_errors(address: str, secret: dict[str, str], message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        provider(None, "splunk", address, secret)  # type: ignore[arg-type]
