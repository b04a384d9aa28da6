"""Webhook calls: Flagger's payload, per-attempt timeout, retries with back-off, and the verdict.

Flagger POSTs ``{"name", "namespace", "phase", "checksum", "metadata"}`` through go-retryablehttp:
``retries`` extra attempts (default 0), each bounded by the hook ``timeout`` (default 10s), waiting
1 s, 2 s, 4 s ... up to 30 s in between (a ``Retry-After`` from a 429/503 wins), retrying transport
errors, 429 and 5xx except 501. A status <= 202 passes; anything else fails with the response body as
the error text. ``disableTLS`` skips certificate verification.

Deliberate difference: when retries run out on a retryable status, Flagger's error is only
``POST <url> giving up after N attempt(s)`` (the body is lost); here the status and body follow, so
the Halt event says why the hook failed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from controller.api.canary import Canary, Webhook
from controller.api.durations import format_duration
from controller.api.status import CanaryStatus
from controller.errors import WebhookError

BACKOFF_MIN_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
MAX_ERROR_BODY_BYTES = 16 * 1024
SUCCESS_MAX_STATUS = 202

Sleep = Callable[[float], Awaitable[None]]

# go-retryablehttp's alphabet for rand.SafeEncodeString (no vowels, no confusable characters).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def compute_hash(value: Any) -> str:
    """A short stable digest in the style of Flagger's ``ComputeHash`` (FNV-32a, safe-encoded)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = 0x811C9DC5
    for byte in canonical.encode("utf-8"):
        digest ^= byte
        digest = (digest * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(char) % len(_SAFE_ALPHABET)] for char in str(digest))


def canary_checksum(status: CanaryStatus) -> str:
    """Identifies the revision under test: a digest of ``trackedConfigs`` and ``lastAppliedSpec``."""
    tracked = dict(status.tracked_configs) if status.tracked_configs is not None else None
    return compute_hash({"trackedConfigs": tracked, "lastAppliedSpec": status.last_applied_spec})


def hook_payload(canary: Canary, phase: str, metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """The gate/analysis payload, keys in Flagger's order; ``metadata`` omitted when the hook has none."""
    payload: dict[str, Any] = {
        "name": canary.name,
        "namespace": canary.namespace,
        "phase": phase,
        "checksum": canary_checksum(canary.status),
    }
    if metadata:
        payload["metadata"] = {key: metadata[key] for key in sorted(metadata)}
    return payload


def event_payload(
    canary: Canary,
    phase: str,
    event_type: str,
    message: str,
    hook_metadata: Mapping[str, str] | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The event-hook payload: the event fields first, hook metadata never overriding them."""
    timestamp_ms = int((time.time() if now is None else now) * 1000)
    metadata = {"eventMessage": message, "eventType": event_type, "timestamp": str(timestamp_ms)}
    for key, value in (hook_metadata or {}).items():
        metadata.setdefault(key, value)
    payload = hook_payload(canary, phase, None)
    payload["metadata"] = {key: metadata[key] for key in sorted(metadata)}
    return payload


@dataclass(frozen=True)
class _Attempt:
    """The outcome of one POST: a response (status, body, Retry-After) or a transport error text."""

    status: int | None = None
    reason: str = ""
    body: str = ""
    retry_after: float | None = None
    transport_error: str | None = None
    transport_retryable: bool = True

    @property
    def retryable(self) -> bool:
        if self.transport_error is not None:
            return self.transport_retryable
        assert self.status is not None
        return self.status == 429 or (self.status >= 500 and self.status != 501)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def backoff_seconds(attempt_number: int, attempt: _Attempt | None = None) -> float:
    """go-retryablehttp's ``DefaultBackoff``: ``Retry-After`` of a 429/503, else 1 s * 2^n, max 30 s."""
    if attempt is not None and attempt.status in (429, 503) and attempt.retry_after is not None:
        return min(attempt.retry_after, BACKOFF_MAX_SECONDS)
    return float(min(BACKOFF_MIN_SECONDS * (2**attempt_number), BACKOFF_MAX_SECONDS))


class WebhookClient:
    """POSTs webhook payloads on a shared aiohttp session; ``sleep`` is injectable for tests."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._sleep = sleep

    async def _attempt(self, url: str, body: bytes, timeout_seconds: float, verify_tls: bool) -> _Attempt:
        try:
            async with self._session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                ssl=verify_tls,
                timeout=aiohttp.ClientTimeout(total=timeout_seconds),
                allow_redirects=True,
            ) as response:
                raw = await response.content.read(MAX_ERROR_BODY_BYTES)
                return _Attempt(
                    status=response.status,
                    reason=response.reason or "",
                    body=raw.decode("utf-8", errors="replace"),
                    retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                )
        except TimeoutError:
            waited = format_duration(timeout_seconds)
            return _Attempt(transport_error=f'Post "{url}": no response within {waited}')
        except (aiohttp.ClientSSLError, aiohttp.InvalidURL) as error:
            # As go-retryablehttp: an untrusted certificate or a bad URL will not fix itself.
            return _Attempt(transport_error=f'Post "{url}": {error}', transport_retryable=False)
        except aiohttp.ClientError as error:
            return _Attempt(transport_error=f'Post "{url}": {error}')

    async def post(
        self,
        url: str,
        payload: Mapping[str, Any],
        *,
        timeout_seconds: float,
        retries: int = 0,
        verify_tls: bool = True,
    ) -> None:
        """POST ``payload`` with retries; return on status <= 202, raise :class:`WebhookError` otherwise."""
        problem = _url_problem(url)
        if problem is not None:
            raise WebhookError(f'Post "{url}": {problem}')
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        attempts = max(retries, 0) + 1
        last: _Attempt | None = None
        for attempt_number in range(attempts):
            if attempt_number > 0:
                await self._sleep(backoff_seconds(attempt_number - 1, last))
            last = await self._attempt(url, body, timeout_seconds, verify_tls)
            if not last.retryable:
                break
        assert last is not None
        if last.transport_error is None and last.status is not None and last.status <= SUCCESS_MAX_STATUS:
            return
        if last.retryable:
            detail = last.transport_error or _status_detail(last)
            raise WebhookError(f"POST {url} giving up after {attempts} attempt(s): {detail}")
        if last.transport_error is not None:
            raise WebhookError(last.transport_error)
        # Flagger's error text is the response body; say the status when the body is empty.
        raise WebhookError(last.body.strip() or _status_detail(last))

    async def call(self, canary: Canary, webhook: Webhook, phase: str) -> None:
        """Call a gate/analysis hook (every type except ``event``): the ``rollout.ports.Webhooks`` port."""
        await self.post(
            webhook.url,
            hook_payload(canary, str(phase), webhook.metadata),
            timeout_seconds=webhook.timeout_seconds,
            retries=webhook.retries,
            verify_tls=not webhook.disable_tls,
        )

    async def send_event(
        self,
        canary: Canary,
        hook: Webhook,
        phase: str,
        event_type: str,
        message: str,
        *,
        now: float | None = None,
    ) -> None:
        """Forward one Kubernetes event to an event hook."""
        await self.post(
            hook.url,
            event_payload(canary, str(phase), event_type, message, hook.metadata, now=now),
            timeout_seconds=hook.timeout_seconds,
            retries=hook.retries,
            verify_tls=not hook.disable_tls,
        )


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be posted to, worded like Go's net/http; None when it can."""
    try:
        parsed = URL(url)
    except ValueError as error:
        return f"invalid URL: {error}"
    if parsed.scheme not in ("http", "https"):
        return f'unsupported protocol scheme "{parsed.scheme}"'
    if not parsed.host:
        return "no Host in request URL"
    return None


def _status_detail(attempt: _Attempt) -> str:
    text = f"status {attempt.status} {attempt.reason}".rstrip()
    body = attempt.body.strip()
    return f"{text}: {body}" if body else text
