"""Prometheus metrics provider: one instant query over plain aiohttp.

Behaves as Flagger's ``pkg/metrics/providers/prometheus.go``: whitespace runs in the query collapse
to one space, ``GET {address}/api/v1/query?query=...`` (the address path is kept as a prefix),
a 5 s timeout, the template's extra headers, bearer auth when the secret has ``token`` else basic
auth from ``username`` + ``password``, ``insecureSkipVerify``, and ``vector(1)`` as the availability
probe. Differences (recorded in docs/compatibility.md): a query returning several series fails with
a message naming them instead of silently using the last one, Prometheus' own error text is pulled
out of its JSON error body, and a scalar result is accepted.

A steady analysis tick sends two of these queries, so the request path is kept lean: headers, timeout
and the URL of each query string are built once, the body is read as bytes and decoded by orjson.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.template import collapse_whitespace
from controller.errors import AnalysisError, NoValuesError

PROMETHEUS_QUERY_TIMEOUT_SECONDS = 5.0
AVAILABILITY_PROBE_QUERY = "vector(1)"
NO_VALUES_FOUND = "no values found"
_MAX_ERROR_BODY_CHARS = 2000
_URL_CACHE_SIZE = 1024  # query URLs kept per provider (builtin queries repeat every tick)


@dataclass(frozen=True)
class PrometheusConfig:
    """Everything needed to talk to one Prometheus server."""

    address: str
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    insecure_skip_verify: bool = False
    timeout_seconds: float = PROMETHEUS_QUERY_TIMEOUT_SECONDS
    provider_type: str = "prometheus"


def credentials_config(provider_type: str, secret_data: Mapping[str, str]) -> dict[str, Any]:
    """Auth settings from a provider ``secretRef``: ``token`` wins, else ``username`` + ``password``."""
    if "token" in secret_data:
        return {"bearer_token": secret_data["token"]}
    if "username" not in secret_data:
        raise ProviderConfigError(f"{provider_type} credentials does not contain a username")
    if "password" not in secret_data:
        raise ProviderConfigError(f"{provider_type} credentials does not contain a password")
    return {"basic_auth": (secret_data["username"], secret_data["password"])}


def _describe_series(series: Mapping[str, Any]) -> str:
    labels = series.get("metric") or {}
    if not isinstance(labels, Mapping) or not labels:
        return "{}"
    name = labels.get("__name__", "")
    inner = ", ".join(f'{key}="{labels[key]}"' for key in sorted(labels) if key != "__name__")
    return f"{name}{{{inner}}}"


def _text(body: str | bytes) -> str:
    return body if isinstance(body, str) else body.decode("utf-8", errors="replace")


def _parse_sample_value(sample: Any, body: str | bytes) -> float:
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        raise QueryError(
            f"error unmarshaling result: unexpected sample {json.dumps(sample)}, '{_text(body)}'"
        )
    try:
        return float(sample[1])
    except ValueError as error:
        raise QueryError(f'strconv.ParseFloat: parsing "{sample[1]}": invalid syntax') from error


def parse_query_response(body: str | bytes) -> float:
    """Extract the single value of an instant-query response, or raise with a clear reason."""
    try:
        document = orjson.loads(body)
        data = document["data"]
        result_type = data.get("resultType", "vector")
        result = data["result"]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        shown = _text(body)[:_MAX_ERROR_BODY_CHARS]
        raise QueryError(f"error unmarshaling result: {error}, '{shown}'") from error

    if result_type == "scalar":
        value = _parse_sample_value(result, body)
    elif result_type in ("vector", "matrix"):
        if not isinstance(result, list):
            raise QueryError(f"error unmarshaling result: result is not a list, '{_text(body)[:200]}'")
        if not result:
            raise NoValuesError(NO_VALUES_FOUND)
        if result_type == "matrix" or any("values" in series for series in result):
            raise QueryError("query returned multiple values (a range vector); use an instant query")
        if len(result) > 1:
            shown = ", ".join(_describe_series(series) for series in result[:5])
            more = f" and {len(result) - 5} more" if len(result) > 5 else ""
            raise QueryError(
                f"query returned {len(result)} series, expected exactly one "
                f"(aggregate it, e.g. with sum()): {shown}{more}"
            )
        value = _parse_sample_value(result[0].get("value"), body)
    else:
        raise QueryError(f"query returned a {result_type} result, expected a vector or scalar")
    if math.isnan(value):
        raise NoValuesError(NO_VALUES_FOUND)
    return value


def _describe_error_body(body: str) -> str:
    """Prometheus answers errors with ``{"status":"error","errorType":..,"error":..}``: show its text."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        error_type = document.get("errorType")
        prefix = f"{error_type}: " if isinstance(error_type, str) and error_type else ""
        return prefix + str(document["error"])
    text = body.strip()
    if len(text) > _MAX_ERROR_BODY_CHARS:
        text = text[:_MAX_ERROR_BODY_CHARS] + "..."
    return text


class PrometheusProvider:
    """Runs instant queries against one Prometheus server through a shared aiohttp session."""

    def __init__(self, config: PrometheusConfig, session: aiohttp.ClientSession) -> None:
        address = config.address.strip()
        url = URL(address) if address else None
        if url is None or not url.is_absolute() or url.scheme not in ("http", "https"):
            raise ProviderConfigError(f"{config.provider_type} address {address} is not a valid URL")
        self._config = config
        self._session = session
        self._query_url = url.with_path(url.path.rstrip("/") + "/api/v1/query").with_query(None)
        self._headers = self._request_headers()
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self._urls: dict[str, URL] = {}

    @property
    def provider_type(self) -> str:
        return self._config.provider_type

    @property
    def query_url(self) -> URL:
        return self._query_url

    def _request_headers(self) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, values in self._config.headers.items():
            for value in [values] if isinstance(values, str) else values:
                headers.add(name, value)
        if self._config.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self._config.bearer_token}"
        elif self._config.basic_auth is not None:
            # As Go's SetBasicAuth: base64 of "user:password" in UTF-8.
            credentials = ":".join(self._config.basic_auth).encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        return headers

    def _url(self, query: str) -> URL:
        url = self._urls.get(query)
        if url is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[query] = self._query_url.with_query({"query": collapse_whitespace(query)})
        return url

    async def run_query(self, query: str) -> float:
        try:
            async with self._session.get(
                self._url(query),
                headers=self._headers,
                ssl=not self._config.insecure_skip_verify,
                timeout=self._timeout,
            ) as response:
                body = await response.read()
                status, reason = response.status, response.reason or ""
        except TimeoutError as error:
            raise QueryError(
                f"request failed: GET {self._query_url}: no answer within {self._config.timeout_seconds:g}s"
            ) from error
        except aiohttp.ClientError as error:
            raise QueryError(f"request failed: GET {self._query_url}: {error}") from error
        if status >= 400:
            raise QueryError(f"error response: Status {status} {reason}: {_describe_error_body(_text(body))}")
        return parse_query_response(body)

    async def check_online(self) -> None:
        try:
            value = await self.run_query(AVAILABILITY_PROBE_QUERY)
        except AnalysisError as error:
            raise AnalysisError(f"running query failed: {error}") from error
        if value != 1:
            raise AnalysisError(f"value is not 1 for query: {AVAILABILITY_PROBE_QUERY}")


def build(context: ProviderContext) -> PrometheusProvider:
    """The template's Prometheus: ``address``, ``headers``, ``insecureSkipVerify`` and the secret's auth."""
    secret = context.credentials
    credentials = credentials_config(context.provider_type, secret) if secret is not None else {}
    config = PrometheusConfig(
        address=context.spec.address,
        headers=context.spec.headers,
        insecure_skip_verify=context.spec.insecure_skip_verify,
        timeout_seconds=context.timeout_seconds,
        provider_type=context.provider_type,
        **credentials,
    )
    return PrometheusProvider(config, context.session)
