"""keptn and externalmetrics against the sandbox API server, reached through the controller's own
`KubeClusterAccess` (kubeconfig), as the operator wires them; plus the sandbox's external metrics API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from controller.analysis.providers import ProviderConfigError, QueryError, build_provider
from controller.analysis.providers import keptn as keptn_module
from controller.analysis.providers.externalmetrics import parse_query
from controller.api.templates import MetricProvider
from controller.errors import AnalysisError, NoValuesError
from controller.kube.api import KubeApi
from controller.kube.cluster_access import KubeClusterAccess
from sandbox.apiserver.external_metrics import format_quantity
from sandbox.apiserver.testing import ApiServer
from tests.controller.kube.support import create_namespace

from .keptn_support import GROUP_PATH, AnalysisController, install_keptn_crds, set_keptn_metric


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await KubeApi.connect(apiserver.kubeconfig, user_agent="flagman-tests")
    await create_namespace(client, "test")
    yield client
    await client.close()


def cluster_provider(
    session: aiohttp.ClientSession,
    api: KubeApi,
    provider_type: str,
    secret: dict[str, str] | None = None,
    **spec: str,
):  # type: ignore[no-untyped-def]
    return build_provider(
        MetricProvider(type=provider_type, **spec),
        secret,
        session,
        cluster=KubeClusterAccess(api.configuration),
    )


# --- externalmetrics ----------------------------------------------------------------------------------


async def test_external_metric_value_with_label_selector(
    apiserver: ApiServer, api: KubeApi, session: aiohttp.ClientSession
) -> None:
    apiserver.external_metrics.set("test", "queue_depth", 12.5, {"queue": "orders"})
    apiserver.external_metrics.set("test", "queue_depth", 3, {"queue": "refunds"})
    built = cluster_provider(session, api, "externalmetrics")
    assert await built.run_query("test/queue_depth?labelSelector=queue%3Drefunds") == 3.0
    assert await built.run_query("test/queue_depth?labelSelector=queue%20in%20(orders)") == 12.5
    request = apiserver.request_log[-1]
    assert request.path == "/apis/external.metrics.k8s.io/v1beta1/namespaces/test/queue_depth"
    assert request.query == "labelSelector=queue in (orders)"


async def test_namespace_defaults_and_no_items_mean_no_values(
    apiserver: ApiServer, api: KubeApi, session: aiohttp.ClientSession
) -> None:
    apiserver.external_metrics.set("default", "datadogmetric@test:errors", 0.25)
    built = cluster_provider(session, api, "externalmetrics")
    assert await built.run_query("datadogmetric@test:errors") == 0.25
    with pytest.raises(NoValuesError, match="no external metrics found: no values found"):
        await built.run_query("test/unknown")
    with pytest.raises(QueryError, match="unable to parse requirement"):
        await built.run_query("test/x?labelSelector=%3D%3D%3D")
    await built.check_online()
    assert apiserver.request_log[-1].path.endswith("/namespaces/kube-system/dummy-metric")


async def test_address_and_token_override_the_cluster(api: KubeApi, session: aiohttp.ClientSession) -> None:
    built = cluster_provider(session, api, "externalmetrics", {"token": "t"}, address="http://127.0.0.1:9")
    with pytest.raises(
        AnalysisError, match=r"external metrics service unavailable: request failed: GET http://127.0.0.1:9"
    ):
        await built.check_online()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metric", ("default", "metric", "")),
        ("/metric", ("default", "metric", "")),
        ("ns/metric?labelSelector=a%3Db%2Cc%21%3Dd", ("ns", "metric", "a=b,c!=d")),
    ],
)
def test_query_format(query: str, expected: tuple[str, str, str]) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "message"), [("a/b/c", "too many slashes"), ("ns/", "metric name cannot be empty")]
)
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


def test_quantities_are_canonical() -> None:
    assert [format_quantity(v) for v in (3, 0.25, 99.5, 1e-9, -2)] == ["3", "250m", "99500m", "1n", "-2"]


def test_cluster_is_required() -> None:
    for provider_type, message in (
        ("externalmetrics", "rest config is nil"),
        ("keptn", "no KubeConfig provided"),
    ):
        with pytest.raises(ProviderConfigError, match=message):
            build_provider(MetricProvider(type=provider_type), None, None)  # type: ignore[arg-type]


# --- keptn -------------------------------------------------------------------------------------------


async def test_keptn_metric_value(api: KubeApi, session: aiohttp.ClientSession) -> None:
    await install_keptn_crds(api)
    built = cluster_provider(session, api, "keptn")
    await built.check_online()
    await set_keptn_metric(api, "test", "response-time", "0.125")
    assert await built.run_query("keptnmetric/test/response-time") == 0.125
    await set_keptn_metric(api, "test", "pending", None)
    with pytest.raises(NoValuesError, match="no value found in resource test/pending"):
        await built.run_query("KeptnMetrics/test/pending\n")
    with pytest.raises(
        QueryError, match=r'could not retrieve KeptnMetric test/missing: .*"missing" not found'
    ):
        await built.run_query("keptnmetric/test/missing")
    await set_keptn_metric(api, "test", "garbled", "fast")
    with pytest.raises(QueryError, match="could not parse value of KeptnMetric test/garbled"):
        await built.run_query("keptnmetric/test/garbled")


async def test_keptn_analysis_is_created_awaited_and_deleted(
    api: KubeApi, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keptn_module, "POLL_SECONDS", 0.05)
    await install_keptn_crds(api)
    controller = AnalysisController(api, "test").start()
    try:
        built = cluster_provider(session, api, "keptn")
        assert await built.run_query("analysis/test/my-definition/5m/service=PodInfo;bad") == 1.0
        spec = controller.seen[0]["spec"]
        assert spec == {
            "analysisDefinition": {"name": "my-definition"},
            "timeframe": {"recent": "5m"},
            "args": {"service": "PodInfo"},
        }
        assert controller.seen[0]["metadata"]["name"].startswith("my-definition-")
        controller.verdict = False
        assert await built.run_query("analysis/test/my-definition") == 0.0
        assert controller.seen[1]["spec"]["timeframe"] == {"recent": "1m"}
        listing = await api.request("GET", f"{GROUP_PATH}/namespaces/test/analyses")
        assert listing["items"] == []  # deleted after reading the verdict
    finally:
        await controller.stop()


async def test_keptn_analysis_times_out(
    api: KubeApi, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keptn_module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(keptn_module, "ANALYSIS_TIMEOUT_SECONDS", 0.3)
    await install_keptn_crds(api)
    built = cluster_provider(session, api, "keptn")
    with pytest.raises(
        QueryError, match="timeout while waiting for Keptn Analysis test/never to be finished"
    ):
        await built.run_query("analysis/test/never")
    listing = await api.request("GET", f"{GROUP_PATH}/namespaces/test/analyses")
    assert listing["items"] == []


async def test_keptn_probe_and_bad_queries(api: KubeApi, session: aiohttp.ClientSession) -> None:
    built = cluster_provider(session, api, "keptn")
    with pytest.raises(AnalysisError, match=r"the Keptn metrics API metrics.keptn.sh/v1beta1 is not served"):
        await built.check_online()
    with pytest.raises(QueryError, match="unexpected query format"):
        await built.run_query("keptnmetric/test")
    with pytest.raises(QueryError, match="unexpected resource kind"):
        await built.run_query("deployment/test/x")
