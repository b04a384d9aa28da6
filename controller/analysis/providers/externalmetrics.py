"""Kubernetes external metrics API (``external.metrics.k8s.io/v1beta1``), as Flagger's externalmetrics.go.

The query is ``[<namespace>/]<metricName>[?labelSelector=<url-encoded selector>]`` (namespace
``default`` when left out); the request is ``GET /apis/external.metrics.k8s.io/v1beta1/namespaces/
{namespace}/{metricName}?labelSelector=...`` on the controller's API server, or on ``address`` with the
secret's ``token`` (for an adapter reached directly, such as Datadog's cluster agent). The value is
the first item's quantity. The probe lists ``dummy-metric`` in ``kube-system``: any answer but an error
means the API is served.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.providers.kubernetes import ClusterAccess, request_json, with_template_overrides
from controller.analysis.providers.quantity import parse_quantity
from controller.errors import AnalysisError, NoValuesError

API_PATH = "/apis/external.metrics.k8s.io/v1beta1"
QUERY_FORMAT = "<namespace>/<metricName>?labelSelector=<urlencoded label selectors>"


def parse_query(query: str) -> tuple[str, str, str]:
    """(namespace, metric name, label selector) of an externalmetrics query."""
    parts = urlsplit("dummy:///" + query.strip())
    segments = parts.path.removeprefix("/").split("/")
    if len(segments) > 2:
        raise QueryError(
            f"error parsing metric query: malformed query string, too many slashes, expected "
            f"{QUERY_FORMAT}, got {query}"
        )
    namespace = "default"
    if len(segments) == 2:
        namespace = segments[0] or namespace
    metric = segments[-1]
    if not metric:
        raise QueryError("error parsing metric query: metric name cannot be empty")
    selector = (parse_qs(parts.query).get("labelSelector") or [""])[0]
    return namespace, metric, selector


class ExternalMetricsProvider:
    provider_type = "externalmetrics"

    def __init__(self, context: ProviderContext) -> None:
        if context.cluster is None:
            raise ProviderConfigError("could not initialize ExternalMetricsProvider: rest config is nil")
        self._cluster: ClusterAccess = context.cluster
        self._context = context

    async def _list(self, namespace: str, metric: str, selector: str) -> dict[str, object]:
        connection = with_template_overrides(await self._cluster.connection(), self._context)
        return await request_json(
            self._context.session,
            connection,
            "GET",
            f"{API_PATH}/namespaces/{namespace}/{metric}",
            params={"labelSelector": selector} if selector else None,
            timeout_seconds=self._context.timeout_seconds,
        )

    async def run_query(self, query: str) -> float:
        namespace, metric, selector = parse_query(query)
        try:
            listing = await self._list(namespace, metric, selector)
        except QueryError as error:
            raise QueryError(f"error querying external metrics API: {error}") from error
        items = listing.get("items")
        if not isinstance(items, list) or not items:
            raise NoValuesError("no external metrics found: no values found")
        first = items[0]
        if not isinstance(first, dict) or "value" not in first:
            raise QueryError(f"error querying external metrics API: item without a value: {first!r}")
        return parse_quantity(str(first["value"]))

    async def check_online(self) -> None:
        try:
            await self._list("kube-system", "dummy-metric", "")
        except QueryError as error:
            raise AnalysisError(f"external metrics service unavailable: {error}") from error


def build(context: ProviderContext) -> ExternalMetricsProvider:
    return ExternalMetricsProvider(context)
