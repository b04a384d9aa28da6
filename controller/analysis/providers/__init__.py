"""Metrics providers behind one interface (:class:`MetricsProvider`): every MetricTemplate type Flagger has.

One module per ``provider.type`` (prometheus, datadog, cloudwatch, newrelic, graphite, influxdb,
dynatrace, stackdriver, keptn, splunk, externalmetrics), each exposing ``build(context)``; the registry
maps the type to it. Shared pieces: :mod:`.transport` (HTTP, errors), :mod:`.kubernetes` (API server
access for keptn and externalmetrics), :mod:`.aws` (SigV4 through botocore).
"""

from controller.analysis.providers.base import (
    MetricsProvider,
    ProviderConfigError,
    ProviderContext,
    QueryError,
)
from controller.analysis.providers.kubernetes import ClusterAccess, ClusterConnection
from controller.analysis.providers.prometheus import PrometheusConfig, PrometheusProvider
from controller.analysis.providers.registry import SUPPORTED_PROVIDER_TYPES, build_provider

__all__ = [
    "SUPPORTED_PROVIDER_TYPES",
    "ClusterAccess",
    "ClusterConnection",
    "MetricsProvider",
    "PrometheusConfig",
    "PrometheusProvider",
    "ProviderConfigError",
    "ProviderContext",
    "QueryError",
    "build_provider",
]
