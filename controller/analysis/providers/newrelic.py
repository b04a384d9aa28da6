"""New Relic Insights: ``GET {address}/v1/accounts/{account}/query?nrql=...``, as Flagger's newrelic.go.

The NRQL gets ``SINCE <interval seconds> seconds ago`` appended and is sent with the ``X-Query-Key``
header. The answer must hold exactly one result; its ``result`` field is the value (what an NRQL
arithmetic expression such as ``filter(...) / sum(...) * 100`` returns). The probe runs
``SELECT * FROM Metric``.

Differences (docs/compatibility.md): a single result without a ``result`` field whose only field is a
number (``SELECT average(duration)`` answers ``{"average": 0.12}``) is used instead of being reported
as "no values"; an error answer says its status instead of ``%!w(<nil>)``; the missing-key message
names the key correctly.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from controller.analysis.providers.base import (
    ProviderContext,
    QueryError,
    interval_nanoseconds,
    required_key,
)
from controller.analysis.providers.transport import absolute_url, decode_json, join_path, send
from controller.errors import AnalysisError, NoValuesError

DEFAULT_ADDRESS = "https://insights-api.newrelic.com"
ACCOUNT_ID = "newrelic_account_id"
QUERY_KEY = "newrelic_query_key"
PROBE_QUERY = "SELECT * FROM Metric"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def single_result(document: Any, body: str) -> float:
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    result = results[0]
    value = _number(result.get("result")) if "result" in result else None
    if "result" not in result and len(result) == 1:
        value = _number(next(iter(result.values())))
    if value is None or math.isnan(value):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    return value


class NewRelicProvider:
    provider_type = "newrelic"

    def __init__(self, context: ProviderContext) -> None:
        base = absolute_url("newrelic", context.spec.address or DEFAULT_ADDRESS)
        account = required_key(
            context, ACCOUNT_ID, f"newrelic credentials does not contain the key '{ACCOUNT_ID}'"
        )
        query_key = required_key(
            context, QUERY_KEY, f"newrelic credentials does not contain the key '{QUERY_KEY}'"
        )
        self._url = join_path(base, f"/v1/accounts/{quote(account, safe='')}/query")
        self._headers = {"X-Query-Key": query_key}
        self._since_seconds = interval_nanoseconds(context) // 1_000_000_000
        self._context = context

    async def _request(self, query: str) -> Any:
        answer = await send(
            self._context.session,
            "GET",
            self._url,
            params={"nrql": f"{query} SINCE {self._since_seconds} seconds ago"},
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
        )
        if not answer.ok:
            raise QueryError(f"error response: {answer.short_body()}: {answer.status_text()}")
        return answer

    async def run_query(self, query: str) -> float:
        answer = await self._request(query)
        return single_result(decode_json(answer), answer.body)

    async def check_online(self) -> None:
        try:
            await self._request(PROBE_QUERY)
        except QueryError as error:
            raise AnalysisError(str(error)) from error


def build(context: ProviderContext) -> NewRelicProvider:
    return NewRelicProvider(context)
