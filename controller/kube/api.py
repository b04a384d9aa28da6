"""A small JSON client for the Kubernetes REST API, on top of kubernetes_asyncio's `ApiClient`.

kubernetes_asyncio provides what is hard to get right (kubeconfig and in-cluster login, TLS, token
refresh, the aiohttp connection pool); this module sends JSON dicts over that pool itself, so every write
chooses its content type explicitly (merge patch for custom objects; the generated client would default to
JSON patch) and every object stays the API's own JSON.

Requests go through our own `aiohttp.ClientSession` on kubernetes_asyncio's connector, not through
`ApiClient.call_api`: its session is created with `trust_env=True` (a `.netrc` read and a proxy lookup in
the thread pool on every request) and its `sanitize_for_serialization` walks every body; both cost more
than the rest of a steady tick. A proxy configured in the kubeconfig is still used. The session keeps no
cookies (the API server sets none), request URLs are parsed once per path, and JSON goes both ways through
orjson (bytes in, bytes out: no text decoding step), since a steady tick is mostly its HTTP round trips.

Failures are mapped once, here, to `controller.errors` types; `str(error)` is Kubernetes' own message
(`deployments.apps "podinfo" not found`), which callers wrap in Flagger's wording.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiolimiter import AsyncLimiter
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from yarl import URL

from controller.errors import ConflictError, KubeError, NotFoundError, UnavailableError
from controller.kube.objects import JsonDict
from controller.version import VERSION

logger = logging.getLogger(__name__)

USER_AGENT = f"flagman-controller/{VERSION}"
# One watch event is one JSON line; a ConfigMap or Secret may hold up to 1 MiB of data (more once encoded).
MAX_WATCH_EVENT_BYTES = 16 * 1024 * 1024
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
CONNECTION_POOL_SIZE = 96  # the watches (one per cached resource) plus the ticks in flight (TickGate)
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30.0)
URL_CACHE_SIZE = 4096  # parsed request URLs kept (a steady tick reuses its canary's status and events paths)


@dataclass(frozen=True)
class Resource:
    """One API resource: where it lives and what it is called in messages."""

    group_version: str  # "v1", "apps/v1", "flagger.app/v1beta1"
    plural: str
    kind: str

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        path = prefix
        if namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name:
            path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path


DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment")
DAEMONSETS = Resource("apps/v1", "daemonsets", "DaemonSet")
SERVICES = Resource("v1", "services", "Service")
CONFIGMAPS = Resource("v1", "configmaps", "ConfigMap")
SECRETS = Resource("v1", "secrets", "Secret")
HPAS = Resource("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
SCALED_OBJECTS = Resource(
    "keda.sh/v1alpha1", "scaledobjects", "ScaledObject"
)  # read directly: KEDA is optional
CANARIES = Resource("flagger.app/v1beta1", "canaries", "Canary")
METRIC_TEMPLATES = Resource("flagger.app/v1beta1", "metrictemplates", "MetricTemplate")
ALERT_PROVIDERS = Resource("flagger.app/v1beta1", "alertproviders", "AlertProvider")
EVENTS = Resource("events.k8s.io/v1", "events", "Event")
CORE_EVENTS = Resource("v1", "events", "Event")


class ForbiddenError(KubeError):
    """HTTP 403: RBAC does not allow the call (callers with a fallback, like the recorder, catch it)."""


class GoneError(KubeError):
    """HTTP 410: a watch's resourceVersion is too old; the caller must list again."""


def _error_for(
    status: int, body: str, method: str, path: str, headers: Mapping[str, str] | None = None
) -> KubeError:
    message = body
    retry_after: float | None = None
    try:
        decoded = orjson.loads(body)
        if isinstance(decoded, dict) and decoded.get("message"):
            message = str(decoded["message"])
            retry_after = _number((decoded.get("details") or {}).get("retryAfterSeconds"))
    except ValueError:
        message = body.strip() or f"{method} {path}: HTTP {status}"
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    if status == 410:
        return GoneError(message)
    if status == 403:
        return ForbiddenError(message)
    message = message or f"{method} {path}: HTTP {status}"
    if status == 429 or status >= 500:
        header = _number((headers or {}).get("Retry-After"))
        return UnavailableError(message, header if header is not None else retry_after)
    return KubeError(message)


def _encode(body: Any) -> bytes:
    """Compact JSON; what orjson refuses (keys that are not strings, integers beyond 64 bits) goes
    through the standard library, which accepts them."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_file(path: str) -> bool:
    return os.path.isfile(os.path.expanduser(path))


async def load_client_configuration(kubeconfig: str = "", master: str = "") -> k8s_client.Configuration:
    """In-cluster service account when no kubeconfig is given and one is available, else the kubeconfig
    (`-kubeconfig`, then `$KUBECONFIG`, then `~/.kube/config`), as client-go does."""
    configuration = k8s_client.Configuration()
    if not kubeconfig:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            if master:
                configuration.host = master
            return configuration
        except k8s_config.ConfigException:
            pass
    if kubeconfig and not _is_file(kubeconfig):
        raise KubeError(f"kubeconfig {kubeconfig} not found")
    try:
        await k8s_config.load_kube_config(config_file=kubeconfig or None, client_configuration=configuration)
    except Exception as error:  # the loader raises ConfigException, OSError, TypeError ... on bad files
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise KubeError(f"cannot load kubeconfig {where} (and not running in a cluster): {error}") from error
    if master:
        configuration.host = master
    return configuration


def rate_limiter(qps: float, burst: int) -> AsyncLimiter | None:
    """client-go's token bucket (capacity `burst`, refilled at `qps`) as aiolimiter's leaky bucket of the
    same capacity draining at the same rate; None when either is not positive (no limit)."""
    if qps <= 0 or burst <= 0:
        return None
    return AsyncLimiter(max_rate=burst, time_period=burst / qps)


class KubeApi:
    """JSON requests to the API server. One instance per controller; `close()` releases the pool."""

    def __init__(self, api_client: k8s_client.ApiClient, limiter: AsyncLimiter | None = None) -> None:
        self._client = api_client
        configuration = api_client.configuration
        rest = api_client.rest_client
        self._session = aiohttp.ClientSession(
            connector=rest.pool_manager.connector,
            connector_owner=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # the API server sets no cookies: skip the jar's work
            read_bufsize=2**21,  # as kubernetes_asyncio: watch events of large objects
        )
        self._host = str(configuration.host).rstrip("/")
        self._urls: dict[str, URL] = {}
        self._extras: dict[str, Any] = {}
        if rest.server_hostname:
            self._extras["server_hostname"] = rest.server_hostname
        if rest.proxy:
            self._extras["proxy"] = rest.proxy
            if rest.proxy_headers:
                self._extras["proxy_headers"] = rest.proxy_headers
        self._limiter = limiter
        self.requests_sent = 0  # for the benchmark and debugging

    @classmethod
    async def connect(
        cls,
        kubeconfig: str = "",
        master: str = "",
        user_agent: str = USER_AGENT,
        *,
        qps: float = 0,
        burst: int = 0,
    ) -> KubeApi:
        """`qps`/`burst` > 0 rate-limit every request as client-go's token bucket does (Flagger's
        `-kubeconfig-qps`/`-kubeconfig-burst`): up to `burst` at once, then `qps` per second."""
        configuration = await load_client_configuration(kubeconfig, master)
        # kubernetes_asyncio's default pool is 5 connections per CPU; every watch cache holds one for
        # good, which left ticks a single connection on 2 cores.
        configuration.connection_pool_maxsize = CONNECTION_POOL_SIZE
        api_client = k8s_client.ApiClient(configuration)
        api_client.user_agent = user_agent
        return cls(api_client, rate_limiter(qps, burst))

    @property
    def configuration(self) -> k8s_client.Configuration:
        """Server address and credentials (the operator hands them to kopf's login)."""
        return self._client.configuration

    async def close(self) -> None:
        await self._session.close()
        await self._client.close()

    async def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Accept": JSON, "Content-Type": content_type, **self._client.default_headers}
        await self._client.update_params_for_auth(headers, [], ["BearerToken"])  # refreshes a token
        return headers

    def _url(self, path: str) -> URL:
        """The parsed URL of `path`, parsed (and quoted where needed) once, not on every request."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[path] = URL(self._host + path)
        return url

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
        client_timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
    ) -> aiohttp.ClientResponse:
        self.requests_sent += 1
        if self._limiter is not None:
            await self._limiter.acquire()
        data = None if body is None else _encode(body)
        try:
            response = await self._session.request(
                method,
                self._url(path),
                params=query or None,
                headers=await self._headers(content_type),
                data=data,
                timeout=client_timeout,
                **self._extras,
            )
        except (aiohttp.ClientConnectionError, TimeoutError) as error:  # refused, reset, timed out
            raise UnavailableError(f"{method} {path}: {error or type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise KubeError(f"{method} {path}: {error or type(error).__name__}") from error
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> JsonDict:
        response = await self._send(method, path, query=query, body=body, content_type=content_type)
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError(f"{method} {path}: {error or type(error).__name__}") from error
        finally:
            response.release()
        if not 200 <= response.status <= 299:
            text = raw.decode("utf-8", errors="replace")
            raise _error_for(response.status, text, method, path, response.headers)
        try:
            decoded = orjson.loads(raw) if raw else {}
        except ValueError as error:
            raise KubeError(f"{method} {path}: invalid JSON in response: {error}") from error
        if not isinstance(decoded, dict):
            raise KubeError(f"{method} {path}: expected a JSON object")
        return decoded

    # --- typed conveniences -----------------------------------------------------------------------

    async def get(self, resource: Resource, namespace: str, name: str) -> JsonDict:
        return await self.request("GET", resource.path(namespace, name))

    async def list(self, resource: Resource, namespace: str = "") -> JsonDict:
        return await self.request("GET", resource.path(namespace or None))

    async def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> JsonDict:
        return await self.request("POST", resource.path(namespace), body=dict(body))

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> JsonDict:
        return await self.request("PUT", resource.path(namespace, name), body=dict(body))

    async def replace_status(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> JsonDict:
        return await self.request("PUT", resource.path(namespace, name, "status"), body=dict(body))

    async def merge_patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        subresource: str | None = None,
    ) -> JsonDict:
        return await self.request(
            "PATCH", resource.path(namespace, name, subresource), body=dict(patch), content_type=MERGE_PATCH
        )

    async def watch_lines(
        self, path: str, query: Mapping[str, str], timeout_seconds: int
    ) -> AsyncIterator[JsonDict]:
        """The events of one watch request, decoded; ends when the server closes the stream."""
        response = await self._send(
            "GET",
            path,
            query=query,
            client_timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30),
        )
        try:
            if response.status != 200:
                raise _error_for(response.status, await response.text(), "GET", path, response.headers)
            while True:
                try:
                    raw_line = await response.content.readline(max_line_length=MAX_WATCH_EVENT_BYTES)
                except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                    # ValueError covers aiohttp's LineTooLong; every failure means "reconnect".
                    raise KubeError(f"watch {path}: {error or type(error).__name__}") from error
                if not raw_line:
                    return  # the server ended the watch (timeoutSeconds)
                line = raw_line.strip()
                if not line:
                    continue
                try:
                    event = orjson.loads(line)
                except ValueError:
                    logger.warning("ignoring an undecodable watch line on %s", path)
                    continue
                if isinstance(event, dict):
                    yield event
        finally:
            response.release()
