"""The controller's view of the cluster: one API client and the watch caches the ports read from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from controller.kube.api import (
    CANARIES,
    CONFIGMAPS,
    DAEMONSETS,
    DEPLOYMENTS,
    HPAS,
    METRIC_TEMPLATES,
    SECRETS,
    SERVICES,
    KubeApi,
    Resource,
)
from controller.kube.backoff import Backoff
from controller.kube.watchcache import WaitReporter, WatchCache


@dataclass
class Cluster:
    """Watch caches of everything a tick reads, scoped to `-namespace` (all namespaces when empty).

    ConfigMaps and Secrets are cached too, because config tracking checksums them every tick; only
    those a Canary reads are kept (`WatchCache.fetch`: tracked configs and their primary copies, metric
    template and alert provider Secrets), not every Secret of the cluster.
    """

    api: KubeApi
    canaries: WatchCache
    deployments: WatchCache
    daemonsets: WatchCache
    services: WatchCache
    autoscalers: WatchCache
    configmaps: WatchCache
    secrets: WatchCache
    metric_templates: WatchCache

    @classmethod
    def create(cls, api: KubeApi, namespace: str = "", watch_timeout_seconds: int = 300) -> Cluster:
        def cache(resource: Resource, *, selective: bool = False) -> WatchCache:
            return WatchCache(
                api,
                resource,
                namespace,
                watch_timeout_seconds=watch_timeout_seconds,
                selective=selective,
                keep_managed_fields=resource is CANARIES,  # who asked for a release (api.requests)
            )

        return cls(
            api=api,
            canaries=cache(CANARIES),
            deployments=cache(DEPLOYMENTS),
            daemonsets=cache(DAEMONSETS),
            services=cache(SERVICES),
            autoscalers=cache(HPAS),
            configmaps=cache(CONFIGMAPS, selective=True),
            secrets=cache(SECRETS, selective=True),
            metric_templates=cache(METRIC_TEMPLATES),
        )

    @property
    def caches(self) -> tuple[WatchCache, ...]:
        return (
            self.canaries,
            self.deployments,
            self.daemonsets,
            self.services,
            self.autoscalers,
            self.configmaps,
            self.secrets,
            self.metric_templates,
        )

    async def start(self, waiting: WaitReporter | None = None, backoff: Backoff | None = None) -> None:
        """List everything, then keep watching; waits out an API server that cannot answer yet (see
        `WatchCache.start`) and fails loudly on anything else (a missing CRD, a forbidden list)."""
        starts = [
            asyncio.create_task(cache.start(waiting, backoff), name=f"list {cache.resource.plural}")
            for cache in self.caches
        ]
        try:
            done, _ = await asyncio.wait(starts, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # the first failure ends the start, and the other lists with it
        finally:
            for task in starts:
                task.cancel()
            await asyncio.gather(*starts, return_exceptions=True)

    async def stop(self) -> None:
        await asyncio.gather(*(cache.stop() for cache in self.caches))

    def liveness_problem(self) -> str | None:
        problems = [problem for cache in self.caches if (problem := cache.liveness_problem())]
        return "; ".join(problems) or None
