"""The interface every metrics provider implements, what it is built from, and the errors it raises.

A provider answers one query with one number. Each MetricTemplate ``provider.type`` has one module in
this package with a ``build(context)`` function; :mod:`controller.analysis.providers.registry` picks it.
Providers translate their library's and transport's failures into these exceptions once, in their own
module, so the analysis never sees an ``aiohttp`` or ``botocore`` type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp

from controller.errors import AnalysisError
from goconv.durations import DurationError, parse_duration_ns

if TYPE_CHECKING:
    from controller.analysis.providers.kubernetes import ClusterAccess
    from controller.api.templates import MetricProvider

#: Flagger's HTTP timeout for one provider request.
DEFAULT_TIMEOUT_SECONDS = 5.0


class QueryError(AnalysisError):
    """The provider rejected or failed a query (HTTP error, bad response, several series)."""


class ProviderConfigError(AnalysisError):
    """A provider cannot be built from its MetricTemplate (bad address, incomplete credentials)."""


class MetricsProvider(Protocol):
    """A metrics backend able to evaluate a query."""

    @property
    def provider_type(self) -> str:
        """The MetricTemplate ``provider.type`` this provider serves (``prometheus`` ...)."""
        ...

    async def run_query(self, query: str) -> float:
        """Evaluate ``query`` now and return its single value.

        Raises :class:`controller.errors.NoValuesError` when there is no data (no series, NaN) and
        :class:`QueryError` for every other failure; the message is the user-facing text.
        """
        ...

    async def check_online(self) -> None:
        """Raise :class:`controller.errors.AnalysisError` unless the backend is reachable and usable."""
        ...


@dataclass(frozen=True)
class ProviderContext:
    """Everything a provider is built from (Flagger's factory arguments).

    ``credentials`` is the decoded ``secretRef`` Secret, or None when the template has no ``secretRef``
    (several providers treat "no secret" and "secret without the key" differently, as Flagger does).
    ``interval`` is the metric's ``interval`` (``1m`` when the metric has none); providers that query a
    time range derive it from it. ``cluster`` reaches the Kubernetes API for ``keptn`` and
    ``externalmetrics``.
    """

    spec: MetricProvider
    credentials: Mapping[str, str] | None
    session: aiohttp.ClientSession
    interval: str = "1m"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    cluster: ClusterAccess | None = None

    @property
    def provider_type(self) -> str:
        return self.spec.type or "prometheus"

    def secret(self) -> Mapping[str, str]:
        return self.credentials or {}


def interval_nanoseconds(context: ProviderContext) -> int:
    """The metric interval as Go nanoseconds, or Flagger's ``error parsing metric interval`` error."""
    try:
        return parse_duration_ns(context.interval)
    except DurationError as error:
        raise ProviderConfigError(f"error parsing metric interval: {error}") from error


def required_key(context: ProviderContext, key: str, message: str) -> str:
    """A secret key the provider cannot work without; ``message`` is Flagger's wording when it is absent."""
    value = context.secret().get(key)
    if value is None:
        raise ProviderConfigError(message)
    return value
