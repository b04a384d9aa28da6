"""What the watch caches keep in memory: of Secrets and ConfigMaps only what Canaries read, and no
managedFields but the Canaries'."""

from __future__ import annotations

import asyncio

from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, SECRETS, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.watchcache import WatchCache
from sandbox.apiserver.testing import ApiServer
from tests.controller.kube import objects
from tests.controller.kube.support import eventually


def _config(name: str, color: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"color": color}}


def _gets(apiserver: ApiServer, name: str) -> int:
    return sum(
        1 for r in apiserver.request_log if r.method == "GET" and r.path.endswith(f"/configmaps/{name}")
    )


async def test_only_fetched_objects_are_kept_and_the_watch_keeps_them_current(
    api: KubeApi, apiserver: ApiServer
) -> None:
    await api.create(CONFIGMAPS, "test", _config("tracked", "blue"))
    await api.create(CONFIGMAPS, "test", _config("other", "blue"))
    cache = WatchCache(api, CONFIGMAPS, "test", watch_timeout_seconds=5, selective=True)
    await cache.start()
    try:
        assert cache.items() == [], "nothing is kept before a Canary asks"
        assert ((await cache.fetch("test", "tracked")) or {}).get("data") == {"color": "blue"}
        assert (await cache.fetch("test", "tracked") or {}).get("data") == {"color": "blue"}
        assert _gets(apiserver, "tracked") == 1, "one GET, then the watch"

        await api.merge_patch(CONFIGMAPS, "test", "other", {"data": {"color": "green"}})
        await api.merge_patch(CONFIGMAPS, "test", "tracked", {"data": {"color": "green"}})

        async def green() -> bool:
            return (cache.get("test", "tracked") or {}).get("data") == {"color": "green"}

        await eventually(green, what="the kept object's MODIFIED event")
        assert cache.get("test", "other") is None, "an object nobody fetched is dropped"
        assert [item["metadata"]["name"] for item in cache.items()] == ["tracked"]
        cache.remember({**_config("other", "red"), "metadata": {"name": "other", "namespace": "test"}})
        assert cache.get("test", "other") is None, "a write of an object nobody reads is not kept"

        # A missing object is remembered as missing: its creation arrives through the watch.
        assert await cache.fetch("test", "later") is None
        await api.create(CONFIGMAPS, "test", _config("later", "blue"))

        async def created() -> bool:
            return cache.get("test", "later") is not None

        await eventually(created, what="the ADDED event of a fetched, then created object")
        assert await cache.fetch("test", "later") is not None
        assert _gets(apiserver, "later") == 1

        await api.request("DELETE", CONFIGMAPS.path("test", "tracked"))

        async def deleted() -> bool:
            return cache.get("test", "tracked") is None

        await eventually(deleted, what="the DELETED event")
        assert await cache.fetch("test", "tracked") is None
        assert _gets(apiserver, "tracked") == 1
    finally:
        await cache.stop()


async def test_concurrent_fetches_share_one_get_and_reads_without_keep_stay_out(
    api: KubeApi, apiserver: ApiServer
) -> None:
    await api.create(CONFIGMAPS, "test", _config("shared", "blue"))
    await api.create(CONFIGMAPS, "test", _config("once", "blue"))
    cache = WatchCache(api, CONFIGMAPS, "test", watch_timeout_seconds=5, selective=True)
    await cache.start()
    try:
        results = await asyncio.gather(*(cache.fetch("test", "shared") for _ in range(5)))
        assert all((result or {}).get("data") == {"color": "blue"} for result in results)
        assert _gets(apiserver, "shared") == 1
        for _ in range(2):
            assert (await cache.fetch("test", "once", keep=False) or {}).get("data") == {"color": "blue"}
        assert _gets(apiserver, "once") == 2 and cache.get("test", "once") is None, "read, not kept"
    finally:
        await cache.stop()


async def test_after_a_410_the_relist_keeps_only_the_fetched(api: KubeApi, apiserver: ApiServer) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"token": "dDBrZW4="}}
    for name in ("provider", "unrelated"):
        await api.create(SECRETS, "test", {**secret, "metadata": {"name": name}})
    cache = WatchCache(api, SECRETS, "test", watch_timeout_seconds=5, selective=True)
    await cache.start()
    try:
        assert await cache.fetch("test", "provider") is not None
        relists = cache.relists
        apiserver.faults.fail("watch", "secrets", 410)
        apiserver.faults.drop_watches("secrets")
        await api.merge_patch(SECRETS, "test", "provider", {"data": {"token": "bmV3"}})

        async def relisted() -> bool:
            kept = cache.get("test", "provider") or {}
            return cache.relists > relists and kept.get("data") == {"token": "bmV3"}

        await eventually(relisted, what="a relist after 410")
        assert [item["metadata"]["name"] for item in cache.items()] == ["provider"]
    finally:
        await cache.stop()


async def test_outside_the_watched_namespace_every_fetch_is_a_get(api: KubeApi, apiserver: ApiServer) -> None:
    await api.create(CONFIGMAPS, "test", _config("elsewhere", "blue"))
    cache = WatchCache(api, CONFIGMAPS, "other", selective=True)  # a controller scoped to `other`
    assert (await cache.fetch("test", "elsewhere") or {}).get("data") == {"color": "blue"}
    assert await cache.fetch("test", "elsewhere") is not None
    assert _gets(apiserver, "elsewhere") == 2 and cache.items() == []


async def test_managed_fields_are_dropped_except_from_canaries(api: KubeApi) -> None:
    written = await api.create(CONFIGMAPS, "test", _config("tracked", "blue"))
    assert written["metadata"].get("managedFields"), "the API server records who wrote what"
    await api.create(CANARIES, "test", objects.tutorial_canary())
    await api.create(DEPLOYMENTS, "test", objects.podinfo())
    cluster = Cluster.create(api, "test", watch_timeout_seconds=5)
    await cluster.start()
    try:
        fetched = await cluster.configmaps.fetch("test", "tracked")
        assert fetched is not None
        assert "managedFields" not in (cluster.configmaps.get("test", "tracked") or {})["metadata"]
        assert "managedFields" not in (cluster.deployments.get("test", "podinfo") or {})["metadata"]
        assert (cluster.canaries.get("test", "podinfo") or {})["metadata"].get("managedFields")
        cluster.deployments.remember(written := await api.get(DEPLOYMENTS, "test", "podinfo"))
        assert written["metadata"].get("managedFields"), "the caller's object is left as it was"
    finally:
        await cluster.stop()
