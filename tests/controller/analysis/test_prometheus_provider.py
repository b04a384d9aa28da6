"""The Prometheus provider against loopback HTTP(S) servers that record what they receive."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from controller.analysis.providers import PrometheusConfig, PrometheusProvider, build_provider
from controller.analysis.providers.base import ProviderConfigError, QueryError
from controller.api.templates import MetricProvider
from controller.errors import AnalysisError, NoValuesError

from .helpers import RecordingServer, prometheus_vector, self_signed_context, start_https

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def answering(status: int, body: Any, content_type: str = "application/json") -> RecordingServer:
    async def respond(request: web.Request) -> web.StreamResponse:
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, content_type=content_type)

    return RecordingServer(respond)


async def serve(aiohttp_server: ServerFactory, recorder: RecordingServer) -> str:
    server = await aiohttp_server(recorder.app())
    return str(server.make_url("")).rstrip("/")


async def test_query_is_collapsed_and_sent_as_get_with_address_path_prefix(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = answering(200, prometheus_vector("99.5"))
    base = await serve(aiohttp_server, recorder)
    provider = PrometheusProvider(PrometheusConfig(address=f"{base}/prom/"), session)
    assert await provider.run_query("\n  sum(\n\trate(x[1m])\n)  ") == 99.5
    request = recorder.requests[0]
    assert (request.method, request.path) == ("GET", "/prom/api/v1/query")
    assert request.query == {"query": " sum( rate(x[1m]) ) "}
    assert "Authorization" not in request.headers


async def test_bearer_token_from_secret_and_template_headers(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = answering(200, prometheus_vector("1"))
    base = await serve(aiohttp_server, recorder)
    spec = MetricProvider(
        type="prometheus", address=base, headers={"X-Scope-OrgID": ("tenant-a", "tenant-b")}
    )
    provider = build_provider(spec, {"token": "s3cret", "username": "ignored"}, session)
    assert await provider.run_query("up") == 1.0
    headers = recorder.requests[0].headers
    assert headers["Authorization"] == "Bearer s3cret"
    # Both values of a multi-valued header are sent (aiohttp's server joins repeated headers).
    raw = [value for key, value in recorder.requests[0].headers.items() if key.lower() == "x-scope-orgid"]
    assert raw and "tenant-a" in raw[0]


async def test_basic_auth_from_secret(aiohttp_server: ServerFactory, session: aiohttp.ClientSession) -> None:
    recorder = answering(200, prometheus_vector("1"))
    base = await serve(aiohttp_server, recorder)
    provider = build_provider(
        MetricProvider(type="prometheus", address=base),
        {"username": "admin", "password": "p@ss:word"},
        session,
    )
    await provider.run_query("up")
    expected = "Basic " + base64.b64encode(b"admin:p@ss:word").decode()
    assert recorder.requests[0].headers["Authorization"] == expected


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"password": "x"}, "prometheus credentials does not contain a username"),
        ({"username": "x"}, "prometheus credentials does not contain a password"),
    ],
)
def test_incomplete_credentials_are_rejected(secret: dict[str, str], message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        build_provider(MetricProvider(type="prometheus", address="http://127.0.0.1:9"), secret, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("address", ["", "not a url", "ftp://127.0.0.1/", "/relative"])
def test_invalid_address_is_rejected(address: str) -> None:
    with pytest.raises(ProviderConfigError, match="is not a valid URL"):
        PrometheusProvider(PrometheusConfig(address=address), None)  # type: ignore[arg-type]


def test_unsupported_provider_type_is_a_clear_error() -> None:
    message = r"provider type opentsdb is not supported \(supported: cloudwatch, datadog, "
    with pytest.raises(ProviderConfigError, match=message):
        build_provider(MetricProvider(type="opentsdb", address="http://127.0.0.1:9"), None, None)  # type: ignore[arg-type]


async def test_prometheus_error_body_is_reported_with_status_and_parse_error(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    error = {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:140: parse error: unexpected identifier "status"',
    }
    base = await serve(aiohttp_server, answering(400, error))
    provider = PrometheusProvider(PrometheusConfig(address=base), session)
    with pytest.raises(QueryError) as raised:
        await provider.run_query("broken")
    assert str(raised.value) == (
        'error response: Status 400 Bad Request: bad_data: invalid parameter "query": '
        '1:140: parse error: unexpected identifier "status"'
    )


async def test_non_json_error_body_is_kept(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    base = await serve(aiohttp_server, answering(503, "upstream down", "text/plain"))
    provider = PrometheusProvider(PrometheusConfig(address=base), session)
    with pytest.raises(QueryError, match=r"^error response: Status 503 Service Unavailable: upstream down$"):
        await provider.run_query("up")


@pytest.mark.parametrize(
    "answer",
    [
        prometheus_vector(),
        prometheus_vector("NaN"),
    ],
    ids=["empty", "nan"],
)
async def test_empty_and_nan_results_mean_no_values(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, answer: dict[str, Any]
) -> None:
    base = await serve(aiohttp_server, answering(200, answer))
    provider = PrometheusProvider(PrometheusConfig(address=base), session)
    with pytest.raises(NoValuesError, match=r"^no values found$"):
        await provider.run_query("up")


async def test_several_series_fail_naming_them(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    answer = prometheus_vector(
        "1", "2", labels=[{"__name__": "up", "pod": "a"}, {"__name__": "up", "pod": "b"}]
    )
    base = await serve(aiohttp_server, answering(200, answer))
    provider = PrometheusProvider(PrometheusConfig(address=base), session)
    with pytest.raises(QueryError) as raised:
        await provider.run_query("up")
    assert str(raised.value) == (
        "query returned 2 series, expected exactly one (aggregate it, e.g. with sum()): "
        'up{pod="a"}, up{pod="b"}'
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "42.5"]}}, 42.5),
        (prometheus_vector("+Inf"), float("inf")),
    ],
)
async def test_scalar_and_infinite_values(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, answer: dict[str, Any], expected: float
) -> None:
    base = await serve(aiohttp_server, answering(200, answer))
    assert await PrometheusProvider(PrometheusConfig(address=base), session).run_query("x") == expected


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]},
            },
            "query returned multiple values",
        ),
        ("this is not json", "error unmarshaling result"),
        (prometheus_vector("abc"), 'strconv.ParseFloat: parsing "abc": invalid syntax'),
    ],
)
async def test_malformed_results_are_query_errors(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, answer: Any, message: str
) -> None:
    base = await serve(aiohttp_server, answering(200, answer))
    with pytest.raises(QueryError, match=message):
        await PrometheusProvider(PrometheusConfig(address=base), session).run_query("x")


async def test_timeout_is_enforced(aiohttp_server: ServerFactory, session: aiohttp.ClientSession) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response(prometheus_vector("1"))

    base = await serve(aiohttp_server, RecordingServer(slow))
    provider = PrometheusProvider(PrometheusConfig(address=base, timeout_seconds=0.2), session)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(QueryError, match=r"request failed: GET .*/api/v1/query: no answer within 0.2s"):
        await provider.run_query("up")
    assert loop.time() - started < 1.5


def test_default_timeout_is_five_seconds() -> None:
    assert PrometheusConfig(address="http://x").timeout_seconds == 5.0


async def test_connection_refused_is_a_query_error(session: aiohttp.ClientSession) -> None:
    provider = PrometheusProvider(PrometheusConfig(address="http://127.0.0.1:9"), session)
    with pytest.raises(QueryError, match=r"^request failed: GET http://127.0.0.1:9/api/v1/query: "):
        await provider.run_query("up")


async def test_vector_one_probe(aiohttp_server: ServerFactory, session: aiohttp.ClientSession) -> None:
    recorder = answering(200, prometheus_vector("1"))
    base = await serve(aiohttp_server, recorder)
    await PrometheusProvider(PrometheusConfig(address=base), session).check_online()
    assert recorder.requests[0].query == {"query": "vector(1)"}

    wrong = await serve(aiohttp_server, answering(200, prometheus_vector("2")))
    with pytest.raises(AnalysisError, match=r"^value is not 1 for query: vector\(1\)$"):
        await PrometheusProvider(PrometheusConfig(address=wrong), session).check_online()

    with pytest.raises(AnalysisError, match=r"^running query failed: request failed: "):
        await PrometheusProvider(PrometheusConfig(address="http://127.0.0.1:9"), session).check_online()


async def test_insecure_skip_verify_against_self_signed_https(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    recorder = answering(200, prometheus_vector("7"))
    runner, base = await start_https(recorder.app(), self_signed_context(tmp_path))
    try:
        strict = PrometheusProvider(PrometheusConfig(address=base), session)
        with pytest.raises(QueryError, match="certificate verify failed"):
            await strict.run_query("up")
        spec = MetricProvider(type="prometheus", address=base, insecure_skip_verify=True)
        assert await build_provider(spec, None, session).run_query("up") == 7.0
        assert len(recorder.requests) == 1  # the verified attempt never reached the handler
    finally:
        await runner.cleanup()
