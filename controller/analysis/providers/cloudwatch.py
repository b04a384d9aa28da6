"""Amazon CloudWatch ``GetMetricData``, as Flagger's cloudwatch.go (aws-sdk-go, query protocol).

The query is a JSON list of ``MetricDataQuery`` objects (field names matched case-insensitively, unknown
fields ignored, as Go's JSON decoding does). It is sent as AWS's query protocol: ``POST /`` with a form
body ``Action=GetMetricData&Version=2010-08-01&MetricDataQueries.member.1.Id=...``, ``StartTime`` ten
metric intervals ago, ``EndTime`` now and ``MaxDatapoints=20``, signed with SigV4 (:mod:`.aws`). The
answer is XML; the value is the first value of the first result. Throttling and 5xx answers are retried
three times, as the SDK does. The probe sends an empty request and counts 400 (validation failed, so
the API answered and the credentials were accepted) or 200 as online.

The endpoint is ``https://monitoring.{region}.amazonaws.com``; ``address``, ``AWS_ENDPOINT_URL_CLOUDWATCH``
or ``AWS_ENDPOINT_URL`` override it (VPC endpoints, LocalStack). Credentials come from the default chain,
or from the ``secretRef`` keys ``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token``
when present. Those two overrides and the 5 s request timeout (Flagger has none) are Flagman additions.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from yarl import URL

from controller.analysis.providers.aws import AwsSigner
from controller.analysis.providers.base import (
    ProviderConfigError,
    ProviderContext,
    QueryError,
    interval_nanoseconds,
)
from controller.analysis.providers.transport import absolute_url, send
from controller.errors import AnalysisError, NoValuesError

API_VERSION = "2010-08-01"
MAX_DATAPOINTS = "20"
WINDOW_INTERVALS = 10
MAX_RETRIES = 3
RETRY_BASE_SECONDS = 0.1
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
_RETRIABLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}

# MetricDataQuery, as the SDK's Go struct: field name -> type (str, int, bool, nested dict, [dict]).
_DIMENSION: dict[str, Any] = {"Name": str, "Value": str}
_METRIC: dict[str, Any] = {"Namespace": str, "MetricName": str, "Dimensions": [_DIMENSION]}
_METRIC_STAT: dict[str, Any] = {"Metric": _METRIC, "Period": int, "Stat": str, "Unit": str}
METRIC_DATA_QUERY: dict[str, Any] = {
    "Id": str,
    "AccountId": str,
    "Expression": str,
    "Label": str,
    "MetricStat": _METRIC_STAT,
    "Period": int,
    "ReturnData": bool,
}


def _flatten(value: Any, schema: Any, prefix: str, where: str, out: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise QueryError(f"error unmarshaling query: {where} must be an object")
        by_lower = {name.lower(): name for name in schema}
        for key, item in value.items():
            name = by_lower.get(str(key).lower())
            if name is not None:  # Go's decoder drops unknown fields
                _flatten(item, schema[name], f"{prefix}.{name}" if prefix else name, f"{where}.{name}", out)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise QueryError(f"error unmarshaling query: {where} must be a list")
        for index, item in enumerate(value, start=1):
            _flatten(item, schema[0], f"{prefix}.member.{index}", f"{where}[{index - 1}]", out)
    elif schema is bool:
        if not isinstance(value, bool):
            raise QueryError(f"error unmarshaling query: {where} must be true or false")
        out.append((prefix, "true" if value else "false"))
    elif schema is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise QueryError(f"error unmarshaling query: {where} must be an integer")
        out.append((prefix, str(value)))
    else:
        if not isinstance(value, str):
            raise QueryError(f"error unmarshaling query: {where} must be a string")
        out.append((prefix, value))


def metric_data_queries(query: str) -> list[tuple[str, str]]:
    """The query protocol parameters of a JSON ``[MetricDataQuery, ...]`` template."""
    try:
        document = json.loads(query)
    except ValueError as error:
        raise QueryError(f"error unmarshaling query: {error}") from error
    if not isinstance(document, list):
        raise QueryError("error unmarshaling query: expected a JSON list of MetricDataQuery objects")
    params: list[tuple[str, str]] = []
    _flatten(document, [METRIC_DATA_QUERY], "MetricDataQueries", "query", params)
    return params


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def form_body(params: list[tuple[str, str]]) -> bytes:
    """As aws-sdk-go's query encoder: keys sorted, RFC 3986 escaping (``%20`` for spaces)."""
    ordered = sorted(params, key=lambda pair: pair[0])
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in ordered).encode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def _text(element: ElementTree.Element | None, name: str) -> str:
    child = _child(element, name) if element is not None else None
    return (child.text or "").strip() if child is not None else ""


class AwsError(Exception):
    """An AWS error answer (``<ErrorResponse><Error><Code>..``); internal to this module."""

    def __init__(self, status: int, code: str, message: str, request_id: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.request_id = status, code, message, request_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message} (status code: {self.status}, request id: {self.request_id})"


def parse_error(status: int, body: str) -> AwsError:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return AwsError(status, "SerializationError", body.strip()[:500] or "empty error body", "")
    error = root.find(".//{*}Error")
    request_id = _text(root, "RequestId") or _text(_child(root, "ResponseMetadata"), "RequestId")
    return AwsError(status, _text(error, "Code") or str(status), _text(error, "Message"), request_id)


def first_value(body: str) -> float:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise QueryError(f"error requesting cloudwatch: SerializationError: {error}") from error
    results = root.find(".//{*}MetricDataResults")
    members = [member for member in results if _local(member.tag) == "member"] if results is not None else []
    if not members:
        raise NoValuesError("invalid response: no MetricDataResults: no values found")
    first = members[0]
    values = _child(first, "Values")
    points = [member.text or "" for member in values] if values is not None else []
    if not points:
        label = _text(first, "Label") or _text(first, "Id")
        status = _text(first, "StatusCode")
        raise NoValuesError(f"invalid response: result {label} ({status}) has no values: no values found")
    try:
        return float(points[0])
    except ValueError as error:
        raise QueryError(f"error requesting cloudwatch: value {points[0]!r} is not a number") from error


def endpoint_for(region: str, address: str, environ: Mapping[str, str]) -> URL:
    override = address or environ.get("AWS_ENDPOINT_URL_CLOUDWATCH") or environ.get("AWS_ENDPOINT_URL")
    if override:
        url = absolute_url("cloudwatch", override)
        return url.with_path(url.path or "/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return URL(f"https://monitoring.{region}.{suffix}/")


class CloudWatchProvider:
    provider_type = "cloudwatch"

    def __init__(self, context: ProviderContext) -> None:
        if not context.spec.region:
            raise ProviderConfigError("region not specified")
        self._window_seconds = WINDOW_INTERVALS * interval_nanoseconds(context) / 1e9
        self._endpoint = endpoint_for(context.spec.region, context.spec.address, os.environ)
        self._signer = AwsSigner("monitoring", context.spec.region, context.credentials)
        self._context = context

    async def _get_metric_data(self, params: list[tuple[str, str]]) -> str:
        body = form_body([("Action", "GetMetricData"), ("Version", API_VERSION), *params])
        for attempt in range(MAX_RETRIES + 1):
            headers = await self._signer.signed_headers(
                "POST", str(self._endpoint), body, {"Content-Type": CONTENT_TYPE}
            )
            answer = await send(
                self._context.session,
                "POST",
                self._endpoint,
                headers=headers,
                data=body,
                timeout_seconds=self._context.timeout_seconds,
                verify_tls=not self._context.spec.insecure_skip_verify,
            )
            if answer.ok:
                return answer.body
            error = parse_error(answer.status, answer.body)
            retriable = answer.status == 429 or answer.status >= 500 or error.code in _RETRIABLE_CODES
            if not retriable or attempt == MAX_RETRIES:
                raise error
            await asyncio.sleep(RETRY_BASE_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    async def run_query(self, query: str) -> float:
        params = metric_data_queries(query)
        end = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        start = end - datetime.timedelta(seconds=self._window_seconds)
        params += [("StartTime", _iso(start)), ("EndTime", _iso(end)), ("MaxDatapoints", MAX_DATAPOINTS)]
        try:
            body = await self._get_metric_data(params)
        except AwsError as error:
            raise QueryError(f"error requesting cloudwatch: {error}") from error
        return first_value(body)

    async def check_online(self) -> None:
        zero = "0001-01-01T00:00:00Z"
        try:
            await self._get_metric_data([("EndTime", zero), ("MetricDataQueries", ""), ("StartTime", zero)])
        except AwsError as error:
            if error.status != 400:
                raise AnalysisError(f"unexpected status code: {error}") from error
        except QueryError as error:
            raise AnalysisError(f"unexpected error: {error}") from error


def build(context: ProviderContext) -> CloudWatchProvider:
    return CloudWatchProvider(context)
