"""Dynatrace: ``GET {address}/api/v2/metrics/query`` with an ``Api-Token``, as Flagger's dynatrace.go.

``metricSelector`` is the query, ``resolution=Inf`` folds the window into one value, and the window is
ten metric intervals back from now (``from``/``to`` in Unix milliseconds). The value is the first value
of the last data entry of the first result. The probe is ``GET /api/v2/metrics?pageSize=1``.

Differences (docs/compatibility.md): a ``null`` value (Dynatrace's "no data in this bucket") is "no
values" instead of 0; an error answer says its status instead of ``%!w(<nil>)``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from controller.analysis.providers.base import (
    ProviderConfigError,
    ProviderContext,
    QueryError,
    interval_nanoseconds,
    required_key,
)
from controller.analysis.providers.transport import absolute_url, decode_json, join_path, send
from controller.errors import AnalysisError, NoValuesError

QUERY_PATH = "/api/v2/metrics/query"
VALIDATE_PATH = "/api/v2/metrics"
TOKEN_KEY = "dynatrace_token"
WINDOW_INTERVALS = 10


def last_entry_value(document: Any, body: str) -> float:
    no_values = NoValuesError(f"invalid response: {body[:500]}: no values found")
    results = document.get("result") if isinstance(document, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise no_values
    data = results[0].get("data")
    if not isinstance(data, list) or not data or not isinstance(data[-1], dict):
        raise no_values
    values = data[-1].get("values")
    if not isinstance(values, list) or not values:
        raise no_values
    value = values[0]
    if value is None:
        raise no_values
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(f"error unmarshaling result: value {value!r} is not a number, '{body[:500]}'")
    if math.isnan(value):
        raise no_values
    return float(value)


class DynatraceProvider:
    provider_type = "dynatrace"

    def __init__(self, context: ProviderContext) -> None:
        if not context.spec.address:
            raise ProviderConfigError("dynatrace endpoint is not set")
        base = absolute_url("dynatrace", context.spec.address)
        self._query_url = join_path(base, QUERY_PATH)
        self._validate_url = join_path(base, VALIDATE_PATH)
        token = required_key(context, TOKEN_KEY, "dynatrace credentials does not contain dynatrace_token")
        self._headers = {"Authorization": f"Api-Token {token}"}
        self._from_delta_ms = WINDOW_INTERVALS * interval_nanoseconds(context) // 1_000_000
        self._context = context

    async def run_query(self, query: str) -> float:
        now_ms = int(time.time()) * 1000
        answer = await send(
            self._context.session,
            "GET",
            self._query_url,
            params={
                "metricSelector": query,
                "resolution": "Inf",
                "from": str(now_ms - self._from_delta_ms),
                "to": str(now_ms),
            },
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
        )
        if not answer.ok:
            raise QueryError(f"error response: {answer.short_body()}: {answer.status_text()}")
        return last_entry_value(decode_json(answer), answer.body)

    async def check_online(self) -> None:
        answer = await send(
            self._context.session,
            "GET",
            self._validate_url,
            params={"pageSize": "1"},
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
        )
        if not answer.ok:
            raise AnalysisError(f"error response: {answer.short_body()}: {answer.status_text()}")


def build(context: ProviderContext) -> DynatraceProvider:
    return DynatraceProvider(context)
