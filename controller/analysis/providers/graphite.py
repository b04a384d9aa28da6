"""Graphite render API: ``GET {address}/render?{query}&format=json``, as Flagger's graphite.go.

The query is the render API's query string (``target=...&from=-5min``) with whitespace runs collapsed;
``format=json`` is forced. Basic auth comes from the secret's ``username`` + ``password`` (both are
required once the template has a ``secretRef``). The value is the last non-null datapoint; datapoint
values may be numbers or numeric strings. The probe queries ``target=test`` and accepts "no values".

Difference (docs/compatibility.md): when several targets carry values the check fails naming them
instead of silently using the last target's value (as the Prometheus provider does for several series).
"""

from __future__ import annotations

import base64
import math
from typing import Any
from urllib.parse import parse_qsl

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.providers.transport import absolute_url, decode_json, join_path, send
from controller.analysis.template import collapse_whitespace
from controller.errors import AnalysisError, NoValuesError

PROBE_QUERY = "target=test"


def _datapoint_value(point: Any) -> float | None:
    if not isinstance(point, list) or len(point) != 2:
        raise QueryError(f"error unmarshaling data point: {point!r}")
    value = point[0]
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError as error:
            raise QueryError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from error
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(f"error unmarshaling value: {value!r}")
    return float(value)


def last_value(document: Any, body: str) -> float:
    if not isinstance(document, list):
        raise QueryError(f"error unmarshaling result: expected a list of targets, '{body[:500]}'")
    found: list[tuple[str, float]] = []
    for target in document:
        if not isinstance(target, dict):
            raise QueryError(f"error unmarshaling result: expected a target object, '{body[:500]}'")
        values = [_datapoint_value(point) for point in target.get("datapoints") or []]
        present = [value for value in values if value is not None and not math.isnan(value)]
        if present:
            found.append((str(target.get("target", "")), present[-1]))
    if not found:
        raise NoValuesError("no values found")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found[:5])
        raise QueryError(f"query returned {len(found)} targets with values, expected exactly one: {names}")
    return found[0][1]


class GraphiteProvider:
    provider_type = "graphite"

    def __init__(self, context: ProviderContext) -> None:
        base = absolute_url(context.provider_type, context.spec.address)
        self._render_url = join_path(base, "/render")
        self._headers: dict[str, str] = {}
        if context.credentials is not None:
            username = context.credentials.get("username")
            if username is None:
                raise ProviderConfigError(f"{context.provider_type} credentials does not contain a username")
            password = context.credentials.get("password")
            if password is None:
                raise ProviderConfigError(f"{context.provider_type} credentials does not contain a password")
            if username and password:
                token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
                self._headers["Authorization"] = f"Basic {token}"
        self._context = context

    async def run_query(self, query: str) -> float:
        # As Go's url.Values: parse, set format=json, encode sorted by key.
        pairs = [(k, v) for k, v in parse_qsl(collapse_whitespace(query), keep_blank_values=True)]
        pairs = [(k, v) for k, v in pairs if k != "format"] + [("format", "json")]
        pairs.sort(key=lambda pair: pair[0])
        url = self._render_url.with_query(pairs)
        answer = await send(
            self._context.session,
            "GET",
            url,
            headers=self._headers,
            timeout_seconds=self._context.timeout_seconds,
            verify_tls=not self._context.spec.insecure_skip_verify,
        )
        if answer.status >= 400:
            raise QueryError(f"error response: {answer.short_body()}: {answer.status_text()}")
        return last_value(decode_json(answer), answer.body)

    async def check_online(self) -> None:
        try:
            await self.run_query(PROBE_QUERY)
        except NoValuesError:
            return
        except AnalysisError as error:
            raise AnalysisError(f"running query failed: {error}") from error


def build(context: ProviderContext) -> GraphiteProvider:
    return GraphiteProvider(context)
