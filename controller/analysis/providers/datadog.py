"""Datadog: ``GET {address}/api/v1/query`` with the API and application keys, as Flagger's datadog.go.

The window is ten metric intervals back from now (``from``/``to`` in Unix seconds); the value is the
first (oldest) point of the first series, because the newest bucket is usually incomplete. The
availability probe is ``GET /api/v1/validate``.

Differences (docs/compatibility.md): a point whose value is ``null`` is skipped rather than read as 0
(the first non-null point wins; none means "no values"); a ``{"status": "error"}`` answer reports
Datadog's error text; a trailing slash on ``address`` does not double the path separator.
"""

from __future__ import annotations

import math
import time
from typing import Any

from controller.analysis.providers.base import (
    ProviderContext,
    QueryError,
    interval_nanoseconds,
    required_key,
)
from controller.analysis.providers.transport import (
    absolute_url,
    decode_json,
    join_path,
    send,
)
from controller.errors import AnalysisError, NoValuesError

DEFAULT_ADDRESS = "https://api.datadoghq.com"
QUERY_PATH = "/api/v1/query"
VALIDATE_PATH = "/api/v1/validate"
API_KEY = "datadog_api_key"
APPLICATION_KEY = "datadog_application_key"
WINDOW_INTERVALS = 10


def first_point_value(document: Any, body: str) -> float:
    """The oldest non-null point of the first series of a ``/api/v1/query`` answer."""
    if not isinstance(document, dict):
        raise QueryError(f"error unmarshaling result: expected a JSON object, '{body[:200]}'")
    if document.get("status") == "error" and document.get("error"):
        raise QueryError(f"error response: {document['error']}")
    series = document.get("series") or []
    if not isinstance(series, list) or not series or not isinstance(series[0], dict):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    for point in series[0].get("pointlist") or []:
        value = point[1] if isinstance(point, list) and len(point) >= 2 else None
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
            return float(value)
    raise NoValuesError(f"invalid response: {body[:500]}: no values found")


class DatadogProvider:
    provider_type = "datadog"

    def __init__(self, context: ProviderContext) -> None:
        base = absolute_url("datadog", context.spec.address or DEFAULT_ADDRESS)
        self._query_url = join_path(base, QUERY_PATH)
        self._validate_url = join_path(base, VALIDATE_PATH)
        api_key = required_key(context, API_KEY, "datadog credentials does not contain datadog_api_key")
        app_key = required_key(
            context, APPLICATION_KEY, "datadog credentials does not contain datadog_application_key"
        )
        self._headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key}
        self._from_delta = WINDOW_INTERVALS * interval_nanoseconds(context) // 1_000_000_000
        self._context = context

    async def run_query(self, query: str) -> float:
        now = int(time.time())
        answer = await send(
            self._context.session,
            "GET",
            self._query_url,
            params={"query": query, "from": str(now - self._from_delta), "to": str(now)},
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
        )
        if not answer.ok:
            raise QueryError(f"error response: {answer.short_body()}: {answer.status_text()}")
        return first_point_value(decode_json(answer), answer.body)

    async def check_online(self) -> None:
        answer = await send(
            self._context.session,
            "GET",
            self._validate_url,
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
        )
        if not answer.ok:
            raise AnalysisError(f"error response: {answer.short_body()}: {answer.status_text()}")


def build(context: ProviderContext) -> DatadogProvider:
    return DatadogProvider(context)
