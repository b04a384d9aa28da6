"""Google Cloud Monitoring (``stackdriver``): MQL ``QueryTimeSeries``, as Flagger's stackdriver.go.

Flagger calls the gRPC method through the Go client; Flagman calls the same method's REST binding,
``POST {endpoint}/v3/projects/{project}/timeSeries:query`` with ``{"query": ...}``, so it needs no gRPC
stack. With a ``secretRef`` the secret must hold ``project``; ``serviceAccountKey`` (a service account
JSON key) is optional, else Application Default Credentials are used (GKE workload identity, the
metadata server, ``GOOGLE_APPLICATION_CREDENTIALS``). google-auth mints and refreshes the OAuth tokens
(scope ``monitoring.read``). The value is the first value of the first point of the first series. The
probe sends an empty query: ``INVALID_ARGUMENT`` (or success) means the API answered and the
credentials were accepted.

Differences (docs/compatibility.md): an ``int64Value`` point is used (Flagger reads 0 for anything but a
double); without a ``project`` in the secret the ADC project is used; ``address`` overrides the
endpoint (private service connect, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
from typing import Any

import google.auth
import google.auth.exceptions
import urllib3
from google.auth.credentials import Credentials
from google.auth.transport.urllib3 import Request as Urllib3Request
from google.oauth2 import service_account

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.providers.transport import Answer, absolute_url, join_path, send
from controller.errors import AnalysisError, NoValuesError

DEFAULT_ADDRESS = "https://monitoring.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/monitoring.read",)
MAX_PAGES = 5

_credentials_lock = threading.Lock()
_credentials_cache: dict[str, tuple[Credentials, str | None]] = {}
_http = urllib3.PoolManager()


def _load_credentials(key_json: str | None) -> tuple[Credentials, str | None]:
    """Credentials (and their project) for a key, cached so tokens are refreshed only when they expire."""
    cache_key = hashlib.sha256((key_json or "").encode()).hexdigest()
    with _credentials_lock:
        if cache_key not in _credentials_cache:
            if key_json is not None:
                try:
                    info = json.loads(key_json)
                    credentials: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                        info, scopes=SCOPES
                    )
                except (ValueError, KeyError, TypeError) as error:
                    raise ProviderConfigError(
                        f"stackdriver serviceAccountKey is not a usable key: {error}"
                    ) from error
                project = info.get("project_id")
            else:
                credentials, project = google.auth.default(scopes=SCOPES)
            _credentials_cache[cache_key] = (credentials, project)
        return _credentials_cache[cache_key]


def _token(key_json: str | None) -> tuple[str, str | None]:
    credentials, project = _load_credentials(key_json)
    with _credentials_lock:
        if not credentials.valid:
            credentials.refresh(Urllib3Request(_http))  # type: ignore[no-untyped-call]
        return str(credentials.token), project


def _grpc_code(status: str) -> str:
    """``INVALID_ARGUMENT`` -> ``InvalidArgument``, as gRPC's codes print."""
    return "".join(part.capitalize() for part in status.split("_")) or "Unknown"


def describe_error(answer: Answer) -> tuple[str, str]:
    """(gRPC code name, message) of a Google API error answer."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        return _grpc_code(str(error.get("status") or "")), str(error.get("message") or "")
    fallback = {400: "InvalidArgument", 401: "Unauthenticated", 403: "PermissionDenied", 404: "NotFound",
                429: "ResourceExhausted", 503: "Unavailable"}  # fmt: skip
    return fallback.get(answer.status, "Unknown"), f"{answer.status_text()}: {answer.short_body()}"


def point_value(series: Any, body: str) -> float:
    points = series.get("pointData") if isinstance(series, dict) else None
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    values = points[0].get("values")
    if not isinstance(values, list) or not values or not isinstance(values[0], dict):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    typed = values[0]
    if "doubleValue" in typed:
        raw = typed["doubleValue"]
    elif "int64Value" in typed:
        raw = typed["int64Value"]  # JSON carries int64 as a string
    else:
        kind = next(iter(typed), "empty value")
        raise QueryError(f"invalid response: the first value is a {kind}, expected a double or int64")
    try:
        value = float(raw)  # doubles may be "NaN"/"Infinity" strings in proto JSON
    except (TypeError, ValueError) as error:
        raise QueryError(f"invalid response: value {raw!r} is not a number") from error
    if math.isnan(value):
        raise NoValuesError(f"invalid response: {body[:500]}: no values found")
    return value


class StackDriverProvider:
    provider_type = "stackdriver"

    def __init__(self, context: ProviderContext) -> None:
        self._base = absolute_url("stackdriver", context.spec.address or DEFAULT_ADDRESS)
        self._project = ""
        self._key_json: str | None = None
        if context.credentials is not None:
            if "project" not in context.credentials:
                raise ProviderConfigError(
                    f"{context.provider_type} credentials does not contain a project id"
                )
            self._project = context.credentials["project"]
            self._key_json = context.credentials.get("serviceAccountKey")
        self._context = context

    async def _authorization(self) -> tuple[str, str]:
        try:
            token, key_project = await asyncio.to_thread(_token, self._key_json)
        except google.auth.exceptions.GoogleAuthError as error:
            raise QueryError(f"error requesting stackdriver: cannot get an access token: {error}") from error
        project = self._project or key_project or ""
        if not project:
            raise QueryError("error requesting stackdriver: no project: set 'project' in the secret")
        return f"Bearer {token}", project

    async def _query(self, query: str, page_token: str = "") -> Answer:
        authorization, project = await self._authorization()
        if not re.fullmatch(r"[A-Za-z0-9._:-]+", project):
            raise QueryError(f"error requesting stackdriver: invalid project id {project!r}")
        body: dict[str, Any] = {"query": query}
        if page_token:
            body["pageToken"] = page_token
        return await send(
            self._context.session,
            "POST",
            join_path(self._base, f"/v3/projects/{project}/timeSeries:query"),
            headers={"Authorization": authorization, "Content-Type": "application/json"},
            json_body=body,
            timeout_seconds=self._context.timeout_seconds,
            verify_tls=not self._context.spec.insecure_skip_verify,
        )

    async def run_query(self, query: str) -> float:
        page_token = ""
        for _ in range(MAX_PAGES):
            answer = await self._query(query, page_token)
            if not answer.ok:
                code, message = describe_error(answer)
                raise QueryError(f"error requesting stackdriver: rpc error: code = {code} desc = {message}")
            try:
                document = json.loads(answer.body)
            except ValueError as error:
                raise QueryError(f"error requesting stackdriver: invalid JSON answer: {error}") from error
            if not isinstance(document, dict):
                raise QueryError("error requesting stackdriver: the answer is not a JSON object")
            data = document.get("timeSeriesData") or []
            if data:
                return point_value(data[0], answer.body)
            page_token = str(document.get("nextPageToken") or "")
            if not page_token:
                break
        raise NoValuesError("invalid response: no time series: no values found")

    async def check_online(self) -> None:
        try:
            answer = await self._query("")
        except QueryError as error:
            raise AnalysisError(f"unexpected error: {error}") from error
        if answer.ok:
            return
        code, message = describe_error(answer)
        if code != "InvalidArgument":
            raise AnalysisError(f"unexpected status code: {code}: {message}")


def build(context: ProviderContext) -> StackDriverProvider:
    return StackDriverProvider(context)
