"""POSTing a JSON payload to a chat service, the way Flagger's notifier client does.

Flagger: JSON body, `Content-Type: application/json`, optional proxy, a 5 s deadline, anything but 200 is
an error carrying the response body. Go's default client also honours `HTTP(S)_PROXY`/`NO_PROXY`
(never for loopback hosts) when no proxy is configured; so does this one. Differences: every 2xx is a
success (MS Teams workflow webhooks answer 202 Accepted) and the error names the status too.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from controller.alerts.notifier import AlertDeliveryError

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_ERROR_BODY_CHARS = 512


def normalize_proxy(proxy: str) -> str:
    """`my-http-proxy.com:3128` (as Flagger's docs write it) means `http://my-http-proxy.com:3128`."""
    proxy = proxy.strip()
    if proxy and "://" not in proxy:
        return f"http://{proxy}"
    return proxy


def _is_loopback(host: str | None) -> bool:
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def environment_proxy(url: URL) -> str:
    """The proxy Go's `ProxyFromEnvironment` would pick for `url`, or "" (loopback is never proxied)."""
    if _is_loopback(url.host):
        return ""
    try:
        proxy, _auth = get_env_proxy_for_url(url)
    except LookupError:
        return ""
    return str(proxy)


def _excerpt(body: str) -> str:
    body = body.strip()
    return body if len(body) <= MAX_ERROR_BODY_CHARS else body[:MAX_ERROR_BODY_CHARS] + "..."


@dataclass(frozen=True)
class JsonPoster:
    """Shares the controller's aiohttp session; one instance serves every notifier."""

    session: aiohttp.ClientSession
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    async def post(
        self,
        url: str,
        payload: Mapping[str, Any],
        *,
        proxy: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """POST `payload`; return the response body. Raises AlertDeliveryError (text says why)."""
        target = URL(url)
        proxy_url = normalize_proxy(proxy) or environment_proxy(target)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        request_headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            async with self.session.post(
                target,
                data=body,
                headers=request_headers,
                proxy=proxy_url or None,
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                allow_redirects=False,
            ) as response:
                text = await response.text(errors="replace")
                if not 200 <= response.status < 300:
                    reason = f"status {response.status} {response.reason or ''}".rstrip()
                    detail = _excerpt(text)
                    raise AlertDeliveryError(
                        f"sending notification failed: {reason}" + (f": {detail}" if detail else "")
                    )
                return text
        except TimeoutError:
            raise AlertDeliveryError(
                f"sending notification failed: no response within {self.timeout_seconds:g}s"
            ) from None
        except (aiohttp.ClientError, ValueError) as error:
            raise AlertDeliveryError(
                f"sending notification failed: {type(error).__name__}: {error}"
            ) from error
