"""Metrics providers behind one interface (:class:`MetricsProvider`); Prometheus first."""

from controller.analysis.providers.base import MetricsProvider, ProviderConfigError, QueryError
from controller.analysis.providers.prometheus import PrometheusConfig, PrometheusProvider
from controller.analysis.providers.registry import SUPPORTED_PROVIDER_TYPES, build_provider

__all__ = [
    "SUPPORTED_PROVIDER_TYPES",
    "MetricsProvider",
    "PrometheusConfig",
    "PrometheusProvider",
    "ProviderConfigError",
    "QueryError",
    "build_provider",
]
