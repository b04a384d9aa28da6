"""Builds the provider a MetricTemplate names. New providers register here."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from controller.analysis.providers.base import MetricsProvider, ProviderConfigError
from controller.analysis.providers.prometheus import (
    PROMETHEUS_QUERY_TIMEOUT_SECONDS,
    PrometheusConfig,
    PrometheusProvider,
    credentials_config,
)
from controller.api.templates import MetricProvider

SUPPORTED_PROVIDER_TYPES = ("prometheus",)


def build_provider(
    spec: MetricProvider,
    secret_data: Mapping[str, str] | None,
    session: aiohttp.ClientSession,
    *,
    timeout_seconds: float = PROMETHEUS_QUERY_TIMEOUT_SECONDS,
) -> MetricsProvider:
    """A provider for ``spec`` with the credentials of its ``secretRef`` (None when it has none)."""
    provider_type = spec.type or "prometheus"
    if provider_type != "prometheus":
        raise ProviderConfigError(
            f"provider type {provider_type} is not supported by Flagman yet "
            f"(supported: {', '.join(SUPPORTED_PROVIDER_TYPES)})"
        )
    credentials = credentials_config(provider_type, secret_data) if secret_data is not None else {}
    config = PrometheusConfig(
        address=spec.address,
        headers=spec.headers,
        insecure_skip_verify=spec.insecure_skip_verify,
        timeout_seconds=timeout_seconds,
        provider_type=provider_type,
        **credentials,
    )
    return PrometheusProvider(config, session)
