"""The interface every metrics provider implements, and the errors they raise.

A provider answers one instant query with one number. Prometheus is the first implementation; others
(Datadog, CloudWatch, ...) plug in behind the same two methods and are chosen by
:func:`controller.analysis.providers.registry.build_provider`.
"""

from __future__ import annotations

from typing import Protocol

from controller.errors import AnalysisError


class QueryError(AnalysisError):
    """The provider rejected or failed a query (HTTP error, bad response, several series)."""


class ProviderConfigError(AnalysisError):
    """A provider cannot be built from its MetricTemplate (bad address, incomplete credentials)."""


class MetricsProvider(Protocol):
    """A metrics backend able to evaluate an instant query."""

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
        """Raise :class:`controller.errors.AnalysisError` unless the backend answers a trivial query."""
        ...
