"""One HTTP request of a provider over the shared aiohttp session, failures mapped to QueryError once.

Every provider that speaks HTTP sends through :func:`send`, so a timeout, a refused connection or a TLS
failure reads the same for all of them (``request failed: GET https://...: ...``), a rate limit says
when to retry, and error bodies are shortened before they reach an event.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from controller.analysis.providers.base import ProviderConfigError, QueryError

MAX_ERROR_BODY_CHARS = 2000


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: str
    headers: CIMultiDictProxy[str]

    @property
    def ok(self) -> bool:
        return self.status == 200

    def status_text(self) -> str:
        """Go's ``Response.Status``: ``429 Too Many Requests``, plus when to retry if the server said."""
        text = f"{self.status} {self.reason}".strip()
        retry_after = self.headers.get("Retry-After")
        return f"{text} (retry after {retry_after}s)" if retry_after else text

    def short_body(self) -> str:
        return shorten(self.body)


def shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ERROR_BODY_CHARS else text[:MAX_ERROR_BODY_CHARS] + "..."


def absolute_url(provider_type: str, address: str) -> URL:
    """``address`` as an http(s) URL, or the error Flagger gives for an unusable address."""
    address = address.strip()
    url = URL(address) if address else None
    if url is None or not url.is_absolute() or url.scheme not in ("http", "https"):
        raise ProviderConfigError(f"{provider_type} address {address} is not a valid URL")
    return url


def join_path(base: URL, path: str) -> URL:
    """``base`` with ``path`` appended to its path (the address may carry a prefix such as ``/dd``)."""
    return base.with_path(base.path.rstrip("/") + path, encoded=False).with_query(None)


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    timeout_seconds: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | CIMultiDict[str] | None = None,
    data: bytes | str | None = None,
    json_body: Any = None,
    verify_tls: bool | ssl.SSLContext = True,
) -> Answer:
    """Send one request and read the whole answer; transport failures raise :class:`QueryError`."""
    shown = url.with_query(None)
    if json_body is not None:
        data = json.dumps(json_body)
    try:
        async with session.request(
            method,
            url,
            params=params,
            headers=headers,
            data=data,
            ssl=verify_tls,  # True: default verification; False: none; a context: the cluster's CA
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            body = await response.text(errors="replace")
            return Answer(response.status, response.reason or "", body, response.headers)
    except TimeoutError as error:
        waited = f"no answer within {timeout_seconds:g}s"
        raise QueryError(f"request failed: {method} {shown}: {waited}") from error
    except aiohttp.ClientError as error:
        raise QueryError(f"request failed: {method} {shown}: {error}") from error


def decode_json(answer: Answer) -> Any:
    """The answer's JSON document, or Flagger's ``error unmarshaling result`` error."""
    try:
        return json.loads(answer.body)
    except ValueError as error:
        raise QueryError(f"error unmarshaling result: {error}, '{answer.short_body()}'") from error
