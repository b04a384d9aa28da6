"""AlertProviders read through the controller's Kubernetes client (`AlertProviderSource`).

Alerts are rare (a handful per rollout), so a GET per alert is cheap; a watch cache can be passed in to
serve reads from memory, falling back to a GET on a miss (a provider in another namespace, or one
created a moment ago). Secrets come from `controller.kube.sources.CachedSecrets`, which fits
`SecretSource` as it is.
"""

from __future__ import annotations

from controller.api.templates import AlertProvider
from controller.kube.api import ALERT_PROVIDERS, KubeApi
from controller.kube.watchcache import WatchCache


class KubeAlertProviders:
    def __init__(self, api: KubeApi, cache: WatchCache | None = None) -> None:
        self.api = api
        self.cache = cache

    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        body = self.cache.get(namespace, name) if self.cache is not None else None
        if body is None:
            body = await self.api.get(ALERT_PROVIDERS, namespace, name)  # NotFoundError: Kubernetes' text
        return AlertProvider.from_dict(body)
