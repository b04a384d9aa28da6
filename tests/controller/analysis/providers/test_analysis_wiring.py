"""The analysis hands each provider the metric's interval, the template's secret and the cluster access."""

from __future__ import annotations

import aiohttp

from controller.analysis import MetricAnalysis
from tests.controller.analysis.helpers import InMemorySecrets, InMemoryTemplates, tutorial_canary

from .conftest import ServerFactory, serve
from .test_datadog import KEYS, DatadogStub, timeseries


def datadog_template(address: str) -> dict[str, object]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "dd", "namespace": "test"},
        "spec": {
            "provider": {"type": "datadog", "address": address, "secretRef": {"name": "dd-keys"}},
            "query": "avg:requests{service:{{ target }}}",
        },
    }


def metric(**fields: object) -> dict[str, object]:
    return {"name": "dd errors", "templateRef": {"name": "dd"}, "thresholdRange": {"max": 5}, **fields}


async def test_metric_interval_sets_the_window_and_defaults_to_1m(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    stub = DatadogStub(answer=(200, timeseries([[1.0, 2.0]]), {}))
    address = await serve(aiohttp_server, stub.app()) + "/dd"
    templates = InMemoryTemplates({("test", "dd"): datadog_template(address)})
    secrets = InMemorySecrets({("test", "dd-keys"): KEYS})
    analysis = MetricAnalysis(session, templates, secrets, metrics_server="http://127.0.0.1:9")

    passed = await analysis.run_checks(tutorial_canary(metrics=[metric(interval="2m")]))
    assert passed.passed and passed.values == {"dd errors": 2.0}
    with_default = await analysis.run_checks(tutorial_canary(metrics=[metric()]))
    assert with_default.passed
    windows = [int(seen.query["to"]) - int(seen.query["from"]) for seen in stub.seen]
    assert windows == [1200, 600]
    assert stub.seen[0].query["query"] == "avg:requests{service:podinfo}"


async def test_providers_are_probed_and_errors_use_flaggers_wording(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    stub = DatadogStub()
    address = await serve(aiohttp_server, stub.app()) + "/dd"
    templates = InMemoryTemplates({("test", "dd"): datadog_template(address)})
    analysis = MetricAnalysis(session, templates, InMemorySecrets({("test", "dd-keys"): KEYS}))
    await analysis.check_providers(tutorial_canary(metrics=[metric()]))
    assert stub.seen[-1].path == "/dd/api/v1/validate"

    no_keys = MetricAnalysis(session, templates, InMemorySecrets({("test", "dd-keys"): {}}))
    failed = await no_keys.run_checks(tutorial_canary(metrics=[metric()]))
    assert [event.message for event in failed.events] == [
        "Metric template dd.test provider datadog error: datadog credentials does not contain datadog_api_key"
    ]


async def test_cluster_providers_without_cluster_access_fail_clearly(session: aiohttp.ClientSession) -> None:
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "ext", "namespace": "test"},
        "spec": {"provider": {"type": "externalmetrics"}, "query": "queue_depth"},
    }
    analysis = MetricAnalysis(session, InMemoryTemplates({("test", "ext"): template}), InMemorySecrets())
    failed = await analysis.run_checks(
        tutorial_canary(metrics=[{"name": "q", "templateRef": {"name": "ext"}, "thresholdRange": {"max": 1}}])
    )
    assert [event.message for event in failed.events] == [
        "Metric template ext.test provider externalmetrics error: "
        "could not initialize ExternalMetricsProvider: rest config is nil"
    ]
