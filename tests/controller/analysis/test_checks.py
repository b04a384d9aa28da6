"""One tick of metric checks (the Metrics port) against a loopback Prometheus the test controls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from controller.analysis import MetricAnalysis, builtin_query, template_model
from controller.analysis.template import collapse_whitespace, render_query
from controller.api.canary import Canary, Metric
from controller.errors import AnalysisError
from controller.rollout.ports import Event, EventType, LogLevel, Metrics
from tests.data import tutorial
from tests.data.tutorial import FIXED_TEMPLATE_QUERY, TUTORIAL_TEMPLATE_QUERY

from .helpers import (
    InMemorySecrets,
    InMemoryTemplates,
    RecordingServer,
    metric_template,
    prometheus_vector,
    tutorial_canary,
)

ServerFactory = Callable[..., Awaitable[TestServer]]
Answer = tuple[int, Any]


class PrometheusStub:
    """Answers each query from a table of ``substring -> (status, body)``; records the queries."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {"vector(1)": (200, prometheus_vector("1"))}
        self.recorder = RecordingServer(self._respond)
        self.base = ""

    @property
    def queries(self) -> list[str]:
        return [request.query.get("query", "") for request in self.recorder.requests]

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("query", "")
        for fragment, (status, body) in self.answers.items():
            if fragment in query:
                return web.Response(status=status, text=json.dumps(body), content_type="application/json")
        return web.json_response(prometheus_vector())


@pytest.fixture
async def prometheus(aiohttp_server: ServerFactory) -> PrometheusStub:
    stub = PrometheusStub()
    server = await aiohttp_server(stub.recorder.app())
    stub.base = str(server.make_url("")).rstrip("/")
    return stub


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def analysis(
    session: aiohttp.ClientSession,
    prometheus: PrometheusStub,
    templates: InMemoryTemplates | None = None,
    secrets: InMemorySecrets | None = None,
) -> MetricAnalysis:
    return MetricAnalysis(
        session,
        templates or InMemoryTemplates(),
        secrets or InMemorySecrets(),
        metrics_server=prometheus.base,
    )


SUCCESS = "http_request_duration_seconds_count"
DURATION = "histogram_quantile"


def not_found_metric(**fields: Any) -> dict[str, Any]:
    return {**tutorial.not_found_metric(), **fields}


def test_metric_analysis_implements_the_metrics_port(session: aiohttp.ClientSession) -> None:
    port: Metrics = MetricAnalysis(session, InMemoryTemplates(), InMemorySecrets())
    assert callable(port.run_checks) and callable(port.check_providers)


async def test_tutorial_builtin_checks_pass_and_send_flaggers_queries(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("99.5"))
    prometheus.answers[DURATION] = (200, prometheus_vector("0.2509"))
    canary = tutorial_canary()
    result = await analysis(session, prometheus).run_checks(canary)
    assert result.passed and result.events == ()
    assert result.values == {"request-success-rate": 99.5, "request-duration": 0.25}
    success_metric, duration_metric = canary.analysis.metrics
    assert prometheus.queries == [
        builtin_query("request-success-rate", template_model(canary, success_metric)),
        builtin_query("request-duration", template_model(canary, duration_metric)),
    ]
    assert "[1m]" in prometheus.queries[0] and "[30s]" in prometheus.queries[1]


async def test_low_success_rate_halts_with_the_tutorials_message_and_stops(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("69.1666"))
    result = await analysis(session, prometheus).run_checks(tutorial_canary())
    assert not result.passed
    assert result.events == (Event.warning("Halt podinfo.test advancement success rate 69.17% < 99%"),)
    assert result.values == {"request-success-rate": 69.1666}
    assert len(prometheus.queries) == 1  # the first failure stops the pass


async def test_slow_p99_halts_with_a_go_duration(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("100"))
    prometheus.answers[DURATION] = (200, prometheus_vector("1.5159"))
    result = await analysis(session, prometheus).run_checks(tutorial_canary())
    assert result.events == (Event.warning("Halt podinfo.test advancement request duration 1.515s > 500ms"),)
    assert result.values["request-duration"] == 1.515


async def test_infinite_p99_fails_the_max(session: aiohttp.ClientSession, prometheus: PrometheusStub) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("100"))
    prometheus.answers[DURATION] = (200, prometheus_vector("+Inf"))
    result = await analysis(session, prometheus).run_checks(tutorial_canary())
    assert result.events == (
        Event.warning("Halt podinfo.test advancement request duration 2562047h47m16.854s > 500ms"),
    )


async def test_no_traffic_messages(session: aiohttp.ClientSession, prometheus: PrometheusStub) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("NaN"))
    result = await analysis(session, prometheus).run_checks(tutorial_canary())
    assert result.events == (
        Event.warning(
            "Halt advancement no values found for kubernetes metric request-success-rate "
            "probably podinfo.test is not receiving traffic: no values found"
        ),
    )
    prometheus.answers[SUCCESS] = (200, prometheus_vector("100"))
    result = await analysis(session, prometheus).run_checks(tutorial_canary())
    assert result.events == (
        Event.warning(
            "Halt advancement no values found for kubernetes metric request-duration "
            "probably podinfo.test is not receiving traffic"
        ),
    )


async def test_unreachable_prometheus_is_an_error_level_event(session: aiohttp.ClientSession) -> None:
    metrics = MetricAnalysis(
        session, InMemoryTemplates(), InMemorySecrets(), metrics_server="http://127.0.0.1:9"
    )
    result = await metrics.run_checks(tutorial_canary())
    (event,) = result.events
    assert (event.type, event.level) == (EventType.WARNING, LogLevel.ERROR)
    assert event.message.startswith(
        "Prometheus query failed: request failed: GET http://127.0.0.1:9/api/v1/query:"
    )


async def test_invalid_metrics_server_fails_the_check_instead_of_raising(
    session: aiohttp.ClientSession,
) -> None:
    metrics = MetricAnalysis(
        session, InMemoryTemplates(), InMemorySecrets(), metrics_server="prometheus:9090"
    )
    result = await metrics.run_checks(tutorial_canary())
    assert result.events == (
        Event.error("Prometheus query failed: prometheus address prometheus:9090 is not a valid URL"),
    )
    with pytest.raises(
        AnalysisError, match=r"^prometheus not available: prometheus address prometheus:9090 is not"
    ):
        await metrics.check_providers(tutorial_canary())


async def test_canary_metrics_server_overrides_the_flag(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers[SUCCESS] = (200, prometheus_vector("100"))
    prometheus.answers[DURATION] = (200, prometheus_vector("0.1"))
    body = tutorial_canary().to_dict()
    body["spec"]["metricsServer"] = prometheus.base
    metrics = MetricAnalysis(
        session, InMemoryTemplates(), InMemorySecrets(), metrics_server="http://127.0.0.1:9"
    )
    assert (await metrics.run_checks(Canary.from_dict(body))).passed
    await metrics.check_providers(Canary.from_dict(body))


async def test_template_metric_halts_with_the_tutorials_message(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers['status!="404"'] = (200, prometheus_vector("6.2"))
    templates = InMemoryTemplates(
        {
            ("test", "not-found-percentage"): metric_template(
                "not-found-percentage", FIXED_TEMPLATE_QUERY, prometheus.base
            )
        }
    )
    canary = tutorial_canary(metrics=[not_found_metric()])
    result = await analysis(session, prometheus, templates).run_checks(canary)
    assert result.events == (Event.warning("Halt podinfo.test advancement 404s percentage 6.20 > 5"),)
    assert result.values == {"404s percentage": 6.2}
    expected = collapse_whitespace(
        render_query(FIXED_TEMPLATE_QUERY, template_model(canary, canary.analysis.metrics[0]))
    )
    assert prometheus.queries == [expected]
    assert (
        'kubernetes_namespace="test", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"' in expected
    )


async def test_tutorial_template_parse_error_is_a_failed_check_that_says_so(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    error = {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:200: parse error: '
        'unexpected identifier "status" in label matching',
    }
    prometheus.answers["100 - sum"] = (400, error)
    templates = InMemoryTemplates(
        {
            ("test", "not-found-percentage"): metric_template(
                "not-found-percentage", TUTORIAL_TEMPLATE_QUERY, prometheus.base
            )
        }
    )
    result = await analysis(session, prometheus, templates).run_checks(
        tutorial_canary(metrics=[not_found_metric()])
    )
    assert not result.passed
    assert result.events == (
        Event.error(
            "Metric query failed for 404s percentage: error response: Status 400 Bad Request: bad_data: "
            'invalid parameter "query": 1:200: parse error: unexpected identifier "status" in label matching'
        ),
    )


async def test_missing_template_and_template_namespace(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    templates = InMemoryTemplates()
    metrics = analysis(session, prometheus, templates)
    result = await metrics.run_checks(tutorial_canary(metrics=[not_found_metric()]))
    assert result.events == (
        Event.error(
            "Metric template not-found-percentage.test error: "
            'metrictemplates.flagger.app "not-found-percentage" not found'
        ),
    )
    other = not_found_metric(templateRef={"name": "shared", "namespace": "flagger"})
    await metrics.run_checks(tutorial_canary(metrics=[other]))
    assert templates.reads[-1] == ("flagger", "shared")


async def test_template_secret_is_read_from_the_template_namespace(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers["sum(up)"] = (200, prometheus_vector("1"))
    body = metric_template("auth", "sum(up)", prometheus.base, secretRef={"name": "prom-auth"})
    body["metadata"]["namespace"] = "flagger"
    templates = InMemoryTemplates({("flagger", "auth"): body})
    metric = {
        "name": "up",
        "templateRef": {"name": "auth", "namespace": "flagger"},
        "thresholdRange": {"min": 1},
    }
    canary = tutorial_canary(metrics=[metric])

    missing = await analysis(session, prometheus, templates).run_checks(canary)
    assert missing.events == (
        Event.error('Metric template auth.flagger secret prom-auth error: secrets "prom-auth" not found'),
    )

    incomplete = InMemorySecrets({("flagger", "prom-auth"): {"username": "u"}})
    result = await analysis(session, prometheus, templates, incomplete).run_checks(canary)
    assert result.events == (
        Event.error(
            "Metric template auth.flagger provider prometheus error: "
            "prometheus credentials does not contain a password"
        ),
    )

    secrets = InMemorySecrets({("flagger", "prom-auth"): {"token": "abc"}})
    assert (await analysis(session, prometheus, templates, secrets).run_checks(canary)).passed
    assert prometheus.recorder.requests[-1].headers["Authorization"] == "Bearer abc"


async def test_template_render_error_and_default_interval(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    templates = InMemoryTemplates(
        {
            ("test", "vars"): metric_template(
                "vars", "sum(rate(x{d='{{ variables.direction }}'}[{{ interval }}]))", prometheus.base
            ),
        }
    )
    metric = {"name": "by-direction", "templateRef": {"name": "vars"}, "thresholdRange": {"max": 10}}
    result = await analysis(session, prometheus, templates).run_checks(tutorial_canary(metrics=[metric]))
    assert result.events == (
        Event.error(
            'Metric template vars.test query render error: template: tmpl:1: executing "tmpl" at '
            '<variables.direction>: map has no entry for key "direction"'
        ),
    )
    prometheus.answers["sum(rate(x"] = (200, prometheus_vector("3"))
    metric["templateVariables"] = {"direction": "inbound"}
    result = await analysis(session, prometheus, templates).run_checks(tutorial_canary(metrics=[metric]))
    assert result.passed
    assert prometheus.queries[-1] == "sum(rate(x{d='inbound'}[1m]))"


async def test_inline_query_checks(session: aiohttp.ClientSession, prometheus: PrometheusStub) -> None:
    metrics = analysis(session, prometheus)
    inline = {"name": "errors", "query": "sum(errors{ns='{{ namespace }}'})", "threshold": 5}
    prometheus.answers["sum(errors"] = (200, prometheus_vector("7"))
    result = await metrics.run_checks(tutorial_canary(metrics=[inline]))
    assert result.events == (Event.warning("Halt podinfo.test advancement errors 7.00 > 5"),)
    assert prometheus.queries[-1] == "sum(errors{ns='test'})"

    prometheus.answers["sum(errors"] = (200, prometheus_vector())
    result = await metrics.run_checks(tutorial_canary(metrics=[inline]))
    assert result.events == (Event.warning("Halt advancement no values found for metric: errors"),)

    prometheus.answers["sum(errors"] = (500, {"status": "error", "errorType": "internal", "error": "boom"})
    result = await metrics.run_checks(tutorial_canary(metrics=[inline]))
    assert result.events == (
        Event.error(
            "Prometheus query failed for errors: "
            "error response: Status 500 Internal Server Error: internal: boom"
        ),
    )

    broken = {"name": "errors", "query": "{{ nope }}"}
    result = await metrics.run_checks(tutorial_canary(metrics=[broken]))
    assert result.events == (
        Event.error('Metric errors query render error: template: tmpl:1: function "nope" not defined'),
    )


async def test_metric_without_query_or_template_fails(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    result = await analysis(session, prometheus).run_checks(tutorial_canary(metrics=[{"name": "mystery"}]))
    assert result.events == (
        Event.error("Metric query failed for no usable metrics template and query were configured"),
    )


async def test_builtin_pass_runs_before_the_template_pass(
    session: aiohttp.ClientSession, prometheus: PrometheusStub
) -> None:
    prometheus.answers["sum(up)"] = (200, prometheus_vector("1"))
    prometheus.answers[SUCCESS] = (200, prometheus_vector("100"))
    templates = InMemoryTemplates({("test", "up"): metric_template("up", "sum(up)", prometheus.base)})
    metrics = [
        {"name": "up", "templateRef": {"name": "up"}, "thresholdRange": {"min": 1}},
        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
    ]
    result = await analysis(session, prometheus, templates).run_checks(tutorial_canary(metrics=metrics))
    assert result.passed
    assert prometheus.queries[0].startswith(" sum( rate( http_request_duration_seconds_count")
    assert prometheus.queries[1] == "sum(up)"


async def test_check_providers(session: aiohttp.ClientSession, prometheus: PrometheusStub) -> None:
    templates = InMemoryTemplates({("test", "up"): metric_template("up", "sum(up)", prometheus.base)})
    metrics = analysis(session, prometheus, templates)
    canary = tutorial_canary(
        metrics=[
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "request-duration", "thresholdRange": {"max": 500}},
            {"name": "up", "templateRef": {"name": "up"}},
        ]
    )
    await metrics.check_providers(canary)
    assert prometheus.queries == ["vector(1)", "vector(1)"]  # builtin once, then the template's provider

    down = MetricAnalysis(session, templates, InMemorySecrets(), metrics_server="http://127.0.0.1:9")
    with pytest.raises(
        AnalysisError, match=r"^prometheus not available: running query failed: request failed: "
    ):
        await down.check_providers(canary)

    templates.bodies[("test", "up")] = metric_template("up", "sum(up)", "http://127.0.0.1:9")
    only_template = tutorial_canary(metrics=[{"name": "up", "templateRef": {"name": "up"}}])
    with pytest.raises(
        AnalysisError, match=r"^prometheus in metric template up.test not available: running query failed"
    ):
        await metrics.check_providers(only_template)

    missing = tutorial_canary(metrics=[{"name": "x", "templateRef": {"name": "gone"}}])
    with pytest.raises(
        AnalysisError,
        match=r'^metric template gone.test error: metrictemplates.flagger.app "gone" not found$',
    ):
        await metrics.check_providers(missing)


def test_metric_model_interval_is_kept(session: aiohttp.ClientSession) -> None:
    assert template_model(tutorial_canary(), Metric(name="m", interval="5m")).interval == "5m"
