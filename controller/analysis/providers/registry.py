"""Builds the provider a MetricTemplate names: one module per ``provider.type``, each with ``build()``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp

from controller.analysis.providers import (
    cloudwatch,
    datadog,
    dynatrace,
    externalmetrics,
    graphite,
    influxdb,
    keptn,
    newrelic,
    prometheus,
    splunk,
    stackdriver,
)
from controller.analysis.providers.base import (
    DEFAULT_TIMEOUT_SECONDS,
    MetricsProvider,
    ProviderConfigError,
    ProviderContext,
)
from controller.analysis.providers.kubernetes import ClusterAccess
from controller.analysis.template import DEFAULT_METRIC_INTERVAL
from controller.api.templates import MetricProvider

BUILDERS: dict[str, Callable[[ProviderContext], MetricsProvider]] = {
    "prometheus": prometheus.build,
    "datadog": datadog.build,
    "cloudwatch": cloudwatch.build,
    "newrelic": newrelic.build,
    "graphite": graphite.build,
    "influxdb": influxdb.build,
    "dynatrace": dynatrace.build,
    "stackdriver": stackdriver.build,
    "keptn": keptn.build,
    "splunk": splunk.build,
    "externalmetrics": externalmetrics.build,
}
SUPPORTED_PROVIDER_TYPES = tuple(sorted(BUILDERS))


def build_provider(
    spec: MetricProvider,
    secret_data: Mapping[str, str] | None,
    session: aiohttp.ClientSession,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    interval: str = "",
    cluster: ClusterAccess | None = None,
) -> MetricsProvider:
    """A provider for ``spec`` with the credentials of its ``secretRef`` (None when it has none).

    ``interval`` is the metric's interval (``1m`` when empty: Flagger fails to parse an empty one).
    An unknown type is an error naming the supported ones (Flagger silently falls back to Prometheus).
    """
    provider_type = spec.type or "prometheus"
    builder = BUILDERS.get(provider_type)
    if builder is None:
        raise ProviderConfigError(
            f"provider type {provider_type} is not supported "
            f"(supported: {', '.join(SUPPORTED_PROVIDER_TYPES)})"
        )
    context = ProviderContext(
        spec=spec,
        credentials=secret_data,
        session=session,
        interval=interval or DEFAULT_METRIC_INTERVAL,
        timeout_seconds=timeout_seconds,
        cluster=cluster,
    )
    return builder(context)
