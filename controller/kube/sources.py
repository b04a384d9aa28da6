"""What the metric analysis and alert routing read from Kubernetes: MetricTemplates, AlertProviders and
Secrets.

Implements the protocols of `controller.api.sources` from the watch caches, with a GET on a cache miss
(a template in a namespace outside `-namespace`, or one created a moment ago). Alerts are rare (a
handful per rollout), so AlertProviders are read with a GET unless a cache is passed in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from controller.api import MetricTemplate
from controller.api.templates import AlertProvider
from controller.errors import KubeError
from controller.kube.api import ALERT_PROVIDERS, METRIC_TEMPLATES, SECRETS, KubeApi
from controller.kube.objects import JsonDict
from controller.kube.watchcache import WatchCache


class CachedTemplates:
    def __init__(self, api: KubeApi, cache: WatchCache) -> None:
        self.api = api
        self.cache = cache

    async def get_template(self, namespace: str, name: str) -> MetricTemplate:
        body = self.cache.get(namespace, name)
        if body is None:
            body = await self.api.get(METRIC_TEMPLATES, namespace, name)  # NotFoundError: Kubernetes' text
        return MetricTemplate.from_dict(body)


class CachedSecrets:
    def __init__(self, api: KubeApi, cache: WatchCache) -> None:
        self.api = api
        self.cache = cache

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        secret: JsonDict | None = await self.cache.fetch(namespace, name)
        if secret is None:  # NotFoundError with Kubernetes' text, or one created a moment ago
            secret = await self.api.get(SECRETS, namespace, name)
        decoded: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                decoded[key] = base64.b64decode(str(value), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as error:
                raise KubeError(
                    f"secret {name}.{namespace} key {key} is not valid base64 text: {error}"
                ) from error
        for key, value in (secret.get("stringData") or {}).items():
            decoded.setdefault(key, str(value))
        return decoded


class KubeAlertProviders:
    def __init__(self, api: KubeApi, cache: WatchCache | None = None) -> None:
        self.api = api
        self.cache = cache

    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        body = self.cache.get(namespace, name) if self.cache is not None else None
        if body is None:
            body = await self.api.get(ALERT_PROVIDERS, namespace, name)  # NotFoundError: Kubernetes' text
        return AlertProvider.from_dict(body)
