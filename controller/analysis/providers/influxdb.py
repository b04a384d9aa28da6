"""InfluxDB 2.x Flux: ``POST {address}/api/v2/query?org=...``, as Flagger's influxdb.go (influxdb-client-go).

With a ``secretRef`` the secret must hold ``token`` (sent as ``Authorization: Token ...``) and ``org``.
The body is the client library's: the Flux text, ``type: flux`` and the annotated-CSV dialect; the
answer is annotated CSV (``#datatype``/``#group``/``#default`` rows, a header row, data rows, tables
separated by blank lines). The value is ``_value`` of the first record. Flagger's timeout is 15 s. The
probe runs ``from(bucket: "default") |> range(start: -2h)``.

Differences (docs/compatibility.md): a query that returns no records is "no values" (Flagger returns
0 and passes a ``max`` threshold); integer results (``count()``, ``long``/``unsignedLong``) are used
instead of being rejected; an error inside the CSV stream is reported with its text.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.providers.transport import absolute_url, join_path, send
from controller.errors import AnalysisError, NoValuesError

QUERY_TIMEOUT_SECONDS = 15.0
PROBE_QUERY = 'from(bucket: "default") |> range(start: -2h)'
DIALECT = {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": True}
_NUMERIC = {"double", "long", "unsignedLong"}


@dataclass(frozen=True)
class FluxRecord:
    values: dict[str, str]
    datatypes: dict[str, str]

    def value(self) -> float | None:
        raw = self.values.get("_value", "")
        datatype = self.datatypes.get("_value", "string")
        if raw == "":
            return None
        if datatype not in _NUMERIC:
            raise QueryError(f"invalid response: _value {raw!r} is a {datatype}, not a number: {self.values}")
        try:
            return float(raw)
        except ValueError as error:
            raise QueryError(f"invalid response: _value {raw!r} is not a number") from error


def flux_records(text: str) -> Iterator[FluxRecord]:
    """Records of an annotated-CSV answer, in order; a Flux error table raises :class:`QueryError`."""
    datatypes: list[str] = []
    defaults: list[str] = []
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or all(cell == "" for cell in row):
            datatypes, defaults, header = [], [], None  # a blank line ends a table
            continue
        if row[0] == "#datatype":
            datatypes, header = row, None
            continue
        if row[0] == "#default":
            defaults = row
            continue
        if row[0].startswith("#"):
            continue
        if header is None:
            header = row
            continue
        cells = {name: cell or (defaults[i] if i < len(defaults) else "") for i, (name, cell) in
                 enumerate(zip(header, row, strict=False))}  # fmt: skip
        if "error" in header and "_value" not in header:
            reference = cells.get("reference", "")
            suffix = f" (reference {reference})" if reference else ""
            raise QueryError(f"query error: {cells.get('error', '')}{suffix}")
        types = {name: datatypes[i] for i, name in enumerate(header) if i < len(datatypes)}
        yield FluxRecord(cells, types)


def first_value(text: str) -> float:
    for record in flux_records(text):
        value = record.value()
        if value is None or math.isnan(value):
            raise NoValuesError(f"invalid response: {record.values}: no values found")
        return value
    raise NoValuesError("invalid response: the query returned no records: no values found")


def describe_error(status: int, reason: str, body: str, content_type: str) -> str:
    """The client library's error text: InfluxDB's JSON ``code``/``message`` when it sent them."""
    if content_type == "application/json":
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and (document.get("code") or document.get("message")):
            return f"{document.get('code', '')}: {document.get('message', '')}"
    if body.strip():
        return f"{status} {reason}: {body.strip()[:2000]}"
    if status == 429:
        return "too many requests: exceeded rate limit"
    if status == 503:
        return "unavailable: service temporarily unavailable"
    return f"{status} {reason}"


class InfluxdbProvider:
    provider_type = "influxdb"

    def __init__(self, context: ProviderContext) -> None:
        base = absolute_url(context.provider_type, context.spec.address)
        self._headers = {"Content-Type": "application/json", "Accept-Encoding": "gzip"}
        org = ""
        if context.credentials is not None:
            token = context.credentials.get("token")
            if token is None:
                raise ProviderConfigError(
                    f"{context.provider_type} credentials does not contain an authentication token"
                )
            if "org" not in context.credentials:
                raise ProviderConfigError(
                    f"{context.provider_type} credentials does not contain an organisation"
                )
            org = context.credentials["org"]
            if token:
                self._headers["Authorization"] = f"Token {token}"
        self._url = join_path(base, "/api/v2/query").with_query({"org": org})
        self._context = context

    async def _query(self, flux: str) -> str:
        answer = await send(
            self._context.session,
            "POST",
            self._url,
            headers=self._headers,
            json_body={"dialect": DIALECT, "query": flux, "type": "flux"},
            timeout_seconds=QUERY_TIMEOUT_SECONDS,
            verify_tls=not self._context.spec.insecure_skip_verify,
        )
        if not 200 <= answer.status < 300:
            content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
            detail = describe_error(answer.status, answer.reason, answer.body, content_type)
            retry = answer.headers.get("Retry-After")
            retry_text = f" (retry after {retry}s)" if retry else ""
            raise QueryError(f"error accessing influxdb query api: {detail}{retry_text}")
        return answer.body

    async def run_query(self, query: str) -> float:
        return first_value(await self._query(query))

    async def check_online(self) -> None:
        try:
            for _ in flux_records(await self._query(PROBE_QUERY)):
                pass
        except QueryError as error:
            raise AnalysisError(str(error)) from error


def build(context: ProviderContext) -> InfluxdbProvider:
    return InfluxdbProvider(context)
