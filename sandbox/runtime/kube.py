"""A small JSON-in, JSON-out view of the Kubernetes API on top of kubernetes_asyncio's ApiClient.

The runtime handles several kinds generically (list, watch, create, patch, delete by URL path), so it works
with plain dicts rather than the generated models; kubernetes_asyncio still does the HTTP, auth, TLS and
kubeconfig handling. Every failure leaves this module as a `KubeError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class KubeError(Exception):
    """An API call failed; `status` is the HTTP status (0 when the server could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True)
class Resource:
    """Where a kind lives: `/api/v1` + `pods`, `/apis/apps/v1` + `deployments`."""

    prefix: str
    plural: str
    kind: str
    api_version: str
    namespaced: bool = True

    def collection(self, namespace: str | None = None) -> str:
        if namespace is None or not self.namespaced:
            return f"{self.prefix}/{self.plural}"
        return f"{self.prefix}/namespaces/{namespace}/{self.plural}"

    def item(self, namespace: str, name: str, subresource: str = "") -> str:
        path = f"{self.collection(namespace)}/{name}"
        return f"{path}/{subresource}" if subresource else path


PODS = Resource("/api/v1", "pods", "Pod", "v1")
SERVICES = Resource("/api/v1", "services", "Service", "v1")
ENDPOINTS = Resource("/api/v1", "endpoints", "Endpoints", "v1")
EVENTS = Resource("/api/v1", "events", "Event", "v1")
DEPLOYMENTS = Resource("/apis/apps/v1", "deployments", "Deployment", "apps/v1")
REPLICASETS = Resource("/apis/apps/v1", "replicasets", "ReplicaSet", "apps/v1")
DAEMONSETS = Resource("/apis/apps/v1", "daemonsets", "DaemonSet", "apps/v1")
NODES = Resource("/api/v1", "nodes", "Node", "v1", namespaced=False)
LEASES = Resource("/apis/coordination.k8s.io/v1", "leases", "Lease", "coordination.k8s.io/v1")
ENDPOINTSLICES = Resource(
    "/apis/discovery.k8s.io/v1", "endpointslices", "EndpointSlice", "discovery.k8s.io/v1"
)
SERVICEACCOUNTS = Resource("/api/v1", "serviceaccounts", "ServiceAccount", "v1")


def key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta["name"])


class Kube:
    """One API client shared by every controller of a runtime."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @classmethod
    async def from_kubeconfig(cls, kubeconfig: str) -> Kube:
        configuration = client.Configuration()
        await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        return cls(client.ApiClient(configuration))

    @classmethod
    def from_url(cls, server: str) -> Kube:
        configuration = client.Configuration(host=server.rstrip("/"))
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self.api.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            response = await self.api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=30,
            )
            raw = await response.read()
        except client.ApiException as exc:
            raise KubeError(int(exc.status or 0), _status_message(exc.body) or str(exc.reason)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeError(0, f"cannot reach the API server: {exc}") from exc
        if not 200 <= response.status <= 299:
            raise KubeError(response.status, _status_message(raw) or response.reason or "request failed")
        decoded: Obj = json.loads(raw) if raw else {}
        return decoded

    async def list(
        self, resource: Resource, namespace: str | None = None, field_selector: str | None = None
    ) -> Obj:
        query = {"fieldSelector": field_selector} if field_selector else None
        return await self.request("GET", resource.collection(namespace), query=query)

    async def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        return await self.request("GET", resource.item(namespace, name))

    async def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        return await self.request("POST", resource.collection(namespace), body=body)

    async def patch(
        self, resource: Resource, namespace: str, name: str, body: Obj, subresource: str = ""
    ) -> Obj:
        return await self.request(
            "PATCH", resource.item(namespace, name, subresource), body=body, content_type=MERGE_PATCH
        )

    async def replace(self, resource: Resource, namespace: str, name: str, body: Obj) -> Obj:
        return await self.request("PUT", resource.item(namespace, name), body=body)

    async def delete(
        self, resource: Resource, namespace: str, name: str, *, grace_zero: bool = False
    ) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace_zero:
            body["gracePeriodSeconds"] = 0
        try:
            await self.request("DELETE", resource.item(namespace, name), body=body)
        except KubeError as exc:
            if not exc.not_found:
                raise

    async def watch(
        self, resource: Resource, resource_version: str, field_selector: str | None = None
    ) -> AsyncIterator[Obj]:
        """Watch events after `resource_version` until the server closes the stream."""
        query = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true"}
        if field_selector:
            query["fieldSelector"] = field_selector
        try:
            response = await self.api.call_api(
                resource.collection(),
                "GET",
                query_params=list(query.items()),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=aiohttp.ClientTimeout(total=None, sock_read=120),
            )
        except client.ApiException as exc:
            raise KubeError(int(exc.status or 0), _status_message(exc.body) or str(exc.reason)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeError(0, f"cannot reach the API server: {exc}") from exc
        if not 200 <= response.status <= 299:
            raw = await response.read()
            response.release()
            raise KubeError(response.status, _status_message(raw) or "watch refused")
        try:
            while True:
                try:
                    line = await response.content.readline()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise KubeError(0, f"watch interrupted: {exc}") from exc
                if not line:
                    return
                if not line.strip():
                    continue
                event: Obj = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object", {})
                    raise KubeError(int(status.get("code", 500)), str(status.get("message", "watch error")))
                yield event
        finally:
            response.release()


def _status_message(body: Any) -> str:
    if not body:
        return ""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return str(body)[:500]
    return str(status.get("message", "")) if isinstance(status, dict) else str(status)[:500]
