"""Every metric provider type end to end: the controller process, a Canary whose MetricTemplate uses the
provider, and that provider's loopback stub (the same stubs the provider unit tests check requests with).

Per provider: the value is in range, a new revision is promoted; the value leaves the range, the next
revision rolls back with the provider's value in the Halt event.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from controller.errors import KubeError
from controller.kube.api import CANARIES, METRIC_TEMPLATES, SECRETS
from tests.controller.analysis.providers import test_cloudwatch as cloudwatch
from tests.controller.analysis.providers import test_datadog as datadog
from tests.controller.analysis.providers import test_dynatrace as dynatrace
from tests.controller.analysis.providers import test_graphite as graphite
from tests.controller.analysis.providers import test_influxdb as influxdb
from tests.controller.analysis.providers import test_newrelic as newrelic
from tests.controller.analysis.providers import test_splunk as splunk
from tests.controller.analysis.providers import test_stackdriver as stackdriver
from tests.controller.analysis.providers.keptn_support import install_keptn_crds, set_keptn_metric
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import free_port
from tests.controller.integration.scenarios import deploy_podinfo, set_image, tutorial_webhooks
from tests.controller.integration.test_tutorial import assert_in_order
from tests.controller.kube import objects

GOOD, BAD = 2.5, 9.0  # the metric's thresholdRange is min 1, max 5


@dataclass
class Family:
    """How one provider type is set up: its template provider spec, secret, query, and value knob."""

    provider: dict[str, Any]
    query: str
    set_value: Callable[[float], Awaitable[None] | None]
    secret: dict[str, str] | None = None


async def _serve(app: web.Application, runners: list[web.AppRunner]) -> str:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    runners.append(runner)
    return f"http://127.0.0.1:{port}"


async def _prometheus(bench: Bench, runners: list[web.AppRunner]) -> Family:
    def set_value(value: float) -> None:
        bench.prometheus.custom["provider_probe_metric"] = [value]

    return Family(
        {"type": "prometheus", "address": bench.prometheus.url}, "sum(provider_probe_metric)", set_value
    )


async def _datadog(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = datadog.DatadogStub()
    address = await _serve(stub.app(), runners) + "/dd"

    def set_value(value: float) -> None:
        stub.answer = (200, datadog.timeseries([[time.time() * 1000, value]]), {})

    return Family({"type": "datadog", "address": address}, datadog.QUERY, set_value, datadog.KEYS)


async def _newrelic(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = newrelic.NewRelicStub()
    address = await _serve(stub.app(), runners)

    def set_value(value: float) -> None:
        stub.answer = (200, newrelic.insights({"result": value}))

    return Family({"type": "newrelic", "address": address}, newrelic.NRQL, set_value, newrelic.SECRET)


async def _dynatrace(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = dynatrace.DynatraceStub()
    address = await _serve(stub.app(), runners) + "/e/env1"

    def set_value(value: float) -> None:
        stub.answer = (200, dynatrace.metric_data([value]))

    return Family({"type": "dynatrace", "address": address}, dynatrace.SELECTOR, set_value, dynatrace.SECRET)


async def _graphite(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = graphite.GraphiteStub(credentials=("flagger", "s3cret"))
    address = await _serve(stub.app(), runners) + "/graphite"

    def set_value(value: float) -> None:
        stub.answer = (200, graphite.render(("errors", [[None, 1], [value, 2]])))

    secret = {"username": "flagger", "password": "s3cret"}
    return Family({"type": "graphite", "address": address}, graphite.QUERY, set_value, secret)


async def _influxdb(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = influxdb.InfluxStub()
    address = await _serve(stub.app(), runners)

    def set_value(value: float) -> None:
        stub.answer = (200, influxdb.DOUBLE_TABLES.replace(",1.75,", f",{value},"), "text/csv")

    return Family({"type": "influxdb", "address": address}, influxdb.FLUX, set_value, influxdb.SECRET)


async def _cloudwatch(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = cloudwatch.CloudWatchStub()
    address = await _serve(stub.app(), runners)

    def set_value(value: float) -> None:
        stub.answers = [(200, cloudwatch.metric_data(str(value)))]

    spec = {"type": "cloudwatch", "address": address, "region": cloudwatch.REGION}
    return Family(spec, cloudwatch.QUERY, set_value, cloudwatch.SECRET)


async def _stackdriver(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = stackdriver.GoogleStub()
    stub.address = await _serve(stub.app(), runners)

    def set_value(value: float) -> None:
        stub.answer = (200, stackdriver.series({"doubleValue": value}))

    return Family({"type": "stackdriver", "address": stub.address}, stackdriver.MQL, set_value, stub.secret())


async def _splunk(bench: Bench, runners: list[web.AppRunner]) -> Family:
    stub = splunk.SignalFlowStub()
    address = await _serve(stub.app(), runners)

    def set_value(value: float) -> None:
        stub.points = [[(2, 7, splunk.double(value))]]

    return Family({"type": "splunk", "address": address}, splunk.PROGRAM, set_value, splunk.SECRET)


async def _externalmetrics(bench: Bench, runners: list[web.AppRunner]) -> Family:
    def set_value(value: float) -> None:
        bench.server.external_metrics.set("test", "queue_depth", value, {"queue": "orders"})

    query = "test/queue_depth?labelSelector=queue%3Dorders"
    return Family({"type": "externalmetrics"}, query, set_value)


async def _keptn(bench: Bench, runners: list[web.AppRunner]) -> Family:
    await install_keptn_crds(bench.api)

    async def set_value(value: float) -> None:
        await set_keptn_metric(bench.api, "test", "error-rate", repr(value))

    return Family({"type": "keptn"}, "keptnmetric/{{ namespace }}/error-rate", set_value)


FAMILIES: dict[str, Callable[[Bench, list[web.AppRunner]], Awaitable[Family]]] = {
    "prometheus": _prometheus,
    "datadog": _datadog,
    "newrelic": _newrelic,
    "dynatrace": _dynatrace,
    "graphite": _graphite,
    "influxdb": _influxdb,
    "cloudwatch": _cloudwatch,
    "stackdriver": _stackdriver,
    "splunk": _splunk,
    "externalmetrics": _externalmetrics,
    "keptn": _keptn,
}


@pytest.fixture
async def runners() -> AsyncIterator[list[web.AppRunner]]:
    started: list[web.AppRunner] = []
    yield started
    for runner in started:
        await runner.cleanup()


async def _set(family: Family, value: float) -> None:
    result = family.set_value(value)
    if result is not None:
        await result


async def _install(bench: Bench, family: Family, provider_type: str) -> None:
    provider = dict(family.provider)
    if family.secret is not None:
        data = {key: base64.b64encode(value.encode()).decode() for key, value in family.secret.items()}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{provider_type}-creds"},
            "data": data,
        }
        await bench.api.create(SECRETS, "test", secret)
        provider["secretRef"] = {"name": f"{provider_type}-creds"}
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": f"{provider_type}-metric", "namespace": "test"},
        "spec": {"provider": provider, "query": family.query},
    }
    await bench.api.create(METRIC_TEMPLATES, "test", template)
    canary = objects.tutorial_canary(
        interval="200ms",
        webhooks=tutorial_webhooks(bench)[:1],  # the smoke test; no load needed, the stubs answer anyway
        extra_metrics=[
            {
                "name": f"{provider_type} metric",
                "templateRef": {"name": f"{provider_type}-metric"},
                "thresholdRange": {"min": 1, "max": 5},
                "interval": "30s",
            }
        ],
    )
    canary["spec"]["analysis"]["iterations"] = 3
    await bench.api.create(CANARIES, "test", canary)


@pytest.mark.slow
@pytest.mark.parametrize("provider_type", list(FAMILIES))
async def test_provider_promotes_in_range_and_rolls_back_out_of_range(
    bench: Bench, runners: list[web.AppRunner], provider_type: str
) -> None:
    family = await FAMILIES[provider_type](bench, runners)
    await _set(family, GOOD)
    await deploy_podinfo(bench)
    await _install(bench, family, provider_type)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await bench.wait_message("all the metrics providers are available!")

    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Succeeded")
    await bench.wait_message("Promotion completed! Scaling down podinfo.test")

    await _set(family, BAD)
    await set_image(bench, "stefanprodan/podinfo:3.1.2")
    await bench.wait_phase("Failed")
    await bench.wait_message("Canary failed! Scaling down podinfo.test")
    halt = f"Halt podinfo.test advancement {provider_type} metric 9.00 > 5"
    messages = await bench.messages()
    assert_in_order(
        messages,
        [
            "Advance podinfo.test canary iteration 3/3",
            "Promotion completed! Scaling down podinfo.test",
            halt,
            halt,
            "Rolling back podinfo.test failed checks threshold reached 2",
        ],
    )
    assert not [m for m in messages if "Metric query failed" in m or "no values found" in m], messages


async def test_an_unknown_provider_type_is_refused_with_a_clear_message(bench: Bench) -> None:
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "tsdb", "namespace": "test"},
        "spec": {"provider": {"type": "opentsdb", "address": "http://127.0.0.1:9"}, "query": "x"},
    }
    with pytest.raises(
        KubeError, match=r'spec.provider.type: Unsupported value: "opentsdb": supported values:'
    ):
        await bench.api.create(METRIC_TEMPLATES, "test", template)
