"""The Kubernetes API as the ``keptn`` and ``externalmetrics`` providers reach it (Flagger's rest.Config).

The analysis does not import the Kubernetes adapters: `controller.wiring` hands in a
:class:`~controller.api.sources.ClusterAccess`
that says, at the moment of each request, where the API server is and how to authenticate (tokens of
in-cluster service accounts rotate). Providers then talk JSON to it over the shared aiohttp session;
a template's ``address``, ``insecureSkipVerify`` and secret ``token`` override parts of it, as Flagger
overrides a copy of its rest.Config.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
from yarl import URL

from controller.analysis.providers.base import DEFAULT_TIMEOUT_SECONDS, ProviderContext, QueryError
from controller.analysis.providers.transport import Answer, absolute_url, send
from controller.api.sources import ClusterAccess as ClusterAccess  # where `controller.kube` implements it
from controller.api.sources import ClusterConnection as ClusterConnection
from controller.version import VERSION

# Not the controller's own user agent: the RBAC check of the charts (tests/deploy/test_rbac.py) records
# requests by that one, and these calls need grants the charts do not give by default.
USER_AGENT = f"flagman-metrics-provider/{VERSION}"


class KubeStatusError(QueryError):
    """The API server answered with an error ``Status``; ``code`` is its HTTP status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def with_template_overrides(connection: ClusterConnection, context: ProviderContext) -> ClusterConnection:
    """Flagger's overrides: ``address`` replaces the host, a secret ``token`` the credentials."""
    if context.spec.address:
        absolute_url(context.provider_type, context.spec.address)
        connection = replace(connection, host=context.spec.address)
    if context.spec.insecure_skip_verify:
        connection = replace(connection, insecure=True)
    token = context.secret().get("token")
    if token:
        headers = {k: v for k, v in connection.headers.items() if k.lower() != "authorization"}
        connection = replace(connection, headers={**headers, "Authorization": f"Bearer {token}"})
    return connection


def _status_message(answer: Answer) -> str:
    """Kubernetes' own message from a ``Status`` body (``keptnmetrics... "x" not found``)."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("kind") == "Status" and document.get("message"):
        return str(document["message"])
    text = answer.short_body()
    return f"the server responded with {answer.status_text()}" + (f": {text}" if text else "")


async def request_json(
    session: aiohttp.ClientSession,
    connection: ClusterConnection,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """One JSON request; an error status raises :class:`KubeStatusError` with Kubernetes' message."""
    base = URL(connection.host.rstrip("/"))
    if not base.is_absolute():
        base = URL(f"https://{connection.host.rstrip('/')}")
    url = base.with_path(base.path.rstrip("/") + path)
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **connection.headers}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if connection.insecure:
        verify: bool | ssl.SSLContext = False
    else:
        verify = connection.ssl_context or True
    answer = await send(
        session,
        method,
        url,
        params=params,
        headers=headers,
        json_body=body,
        timeout_seconds=timeout_seconds,
        verify_tls=verify,
    )
    if not 200 <= answer.status < 300:
        raise KubeStatusError(_status_message(answer), answer.status)
    try:
        document = json.loads(answer.body) if answer.body else {}
    except ValueError as error:
        raise QueryError(f"{method} {path}: invalid JSON in response: {error}") from error
    if not isinstance(document, dict):
        raise QueryError(f"{method} {path}: expected a JSON object")
    return document
