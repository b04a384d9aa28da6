"""The Kubernetes API as the plugin uses it: the user's kubeconfig, Canaries, their events, who the user is.

kubernetes_asyncio does the kubeconfig work (contexts, exec and OIDC credentials, client certificates),
so the plugin authenticates exactly as kubectl does. API failures become :class:`PluginError` here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from controller.api import API_GROUP, CANARY_PLURAL
from controller.api.requests import FIELD_MANAGER
from kubectl_flagman.errors import ConflictError, PluginError

VERSION = "v1beta1"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Target:
    """Where the user points the plugin: kubeconfig, context, namespace (None with ``-A``)."""

    kubeconfig: str | None
    context: str | None
    namespace: str | None
    all_namespaces: bool = False


def _context_details(kubeconfig: str | None, context: str | None) -> tuple[str, str]:
    """The context's namespace (``default`` when unset) and user name, as kubectl reads them."""
    try:
        contexts, active = config.list_kube_config_contexts(kubeconfig)
    except (ConfigException, OSError) as error:
        raise PluginError(f"cannot read the kubeconfig: {error}") from None
    chosen = next((item for item in contexts if item.get("name") == context), None) if context else active
    if context and chosen is None:
        raise PluginError(f'context "{context}" does not exist in the kubeconfig')
    details = (chosen or {}).get("context") or {}
    return str(details.get("namespace") or "default"), str(details.get("user") or "")


def _api_error(error: ApiException, what: str) -> PluginError:
    reason = error.reason or ""
    with contextlib.suppress(ValueError, AttributeError):
        reason = json.loads(error.body or "{}").get("message") or reason
    if error.status == 404:
        return PluginError(f"{what}: not found ({reason})")
    return PluginError(f"{what}: {error.status} {reason}".rstrip())


class Cluster:
    """One API connection for one command."""

    def __init__(self, api: client.ApiClient, namespace: str, kube_user: str) -> None:
        self.api = api
        self.namespace = namespace
        self.kube_user = kube_user
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    async def connect(cls, target: Target) -> Cluster:
        namespace, kube_user = _context_details(target.kubeconfig, target.context)
        configuration = client.Configuration()
        try:
            await config.load_kube_config(
                config_file=target.kubeconfig,
                context=target.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError) as error:
            raise PluginError(f"cannot load the kubeconfig: {error}") from None
        return cls(client.ApiClient(configuration), target.namespace or namespace, kube_user)

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- Canaries --------------------------------------------------------------------------------

    async def canary(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        namespace = namespace or self.namespace
        try:
            body = await self.custom.get_namespaced_custom_object(
                API_GROUP, VERSION, namespace, CANARY_PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                raise PluginError(f'canary "{name}" not found in namespace "{namespace}"') from None
            raise _api_error(error, f"canary {name}.{namespace}") from None
        return dict(body)

    async def canaries(self, all_namespaces: bool) -> list[dict[str, Any]]:
        try:
            if all_namespaces:
                listing = await self.custom.list_cluster_custom_object(API_GROUP, VERSION, CANARY_PLURAL)
            else:
                listing = await self.custom.list_namespaced_custom_object(
                    API_GROUP, VERSION, self.namespace, CANARY_PLURAL
                )
        except ApiException as error:
            raise _api_error(error, "canaries") from None
        return [dict(item) for item in listing.get("items") or []]

    async def annotate(
        self, body: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """Merge-patch annotations (None removes one) as the plugin's field manager, on the version of the
        Canary that was read: a Canary changed meanwhile is a conflict, so a request is never bound to a
        revision the user did not see."""
        metadata = body.get("metadata") or {}
        name, namespace = str(metadata.get("name")), str(metadata.get("namespace"))
        patch = {
            "metadata": {"annotations": dict(annotations), "resourceVersion": metadata.get("resourceVersion")}
        }
        try:
            written = await self.custom.patch_namespaced_custom_object(
                API_GROUP,
                VERSION,
                namespace,
                CANARY_PLURAL,
                name,
                patch,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,  # type: ignore[call-arg]  # kubernetes_asyncio's own kwarg
            )
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(
                    f"canary {name}.{namespace} changed while the request was written: try again"
                ) from None
            raise _api_error(error, f"canary {name}.{namespace}") from None
        return dict(written)

    async def watch_canary(self, name: str, timeout_seconds: int) -> AsyncIterator[dict[str, Any]]:
        """The Canary now and at every change (a watch; re-established when the server ends it)."""
        stream = watch.Watch()
        try:
            async with stream:
                async for event in stream.stream(
                    self.custom.list_namespaced_custom_object,
                    API_GROUP,
                    VERSION,
                    self.namespace,
                    CANARY_PLURAL,
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=timeout_seconds,
                ):
                    if event.get("type") in ("ADDED", "MODIFIED") and isinstance(event.get("object"), dict):
                        yield event["object"]
                    elif event.get("type") == "DELETED":
                        raise PluginError(f'canary "{name}" was deleted')
        except ApiException as error:
            raise _api_error(error, f"watch canary {name}.{self.namespace}") from None

    # -- events and identity ----------------------------------------------------------------------

    async def events(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The Canary's events (core/v1), oldest first."""
        try:
            listing = await self.core.list_namespaced_event(
                namespace, field_selector=f"involvedObject.kind=Canary,involvedObject.name={name}"
            )
        except ApiException as error:
            raise _api_error(error, f"events of {name}.{namespace}") from None
        items = [self.api.sanitize_for_serialization(item) for item in listing.items or []]
        items = [
            item
            for item in items
            if (item.get("involvedObject") or {}).get("name") == name
            and (item.get("involvedObject") or {}).get("kind") == "Canary"
        ]
        items.sort(key=event_time)
        return items

    async def whoami(self) -> str:
        """The user name the API server authenticates (SelfSubjectReview), else the kubeconfig user."""
        review = client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
        try:
            answer = await client.AuthenticationV1Api(self.api).create_self_subject_review(review)
        except (ApiException, ValueError):
            return self.kube_user
        user_info = getattr(getattr(answer, "status", None), "user_info", None)
        return str(getattr(user_info, "username", "") or self.kube_user)


def event_time(event: Mapping[str, Any]) -> str:
    """When an event last happened, as sortable RFC 3339 text."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = event.get(key)
        if value:
            return str(value)
    return str((event.get("metadata") or {}).get("creationTimestamp") or "")
