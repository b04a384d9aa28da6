"""AlertProviders and Secrets read from the sandbox API server, and a failed canary's alert end to end:
state machine -> KubeRecorder's `alert_sender` seam -> AlertProvider (secretRef) -> loopback chat."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from controller.alerts import AlertSources, build_alert_sender
from controller.alerts.settings import AlertSettings
from controller.api import Phase
from controller.errors import NotFoundError
from controller.kube.api import ALERT_PROVIDERS, EVENTS, SECRETS, KubeApi
from controller.kube.recorder import KubeRecorder
from controller.kube.sources import CachedSecrets, KubeAlertProviders
from controller.kube.watchcache import WatchCache
from controller.rollout.ports import AnalysisResult, Event
from sandbox.apiserver.testing import ApiServer
from tests.controller.alerts.conftest import ChatServer
from tests.controller.alerts.helpers import provider_body
from tests.controller.kube.support import create_namespace, eventually, install_crds
from tests.controller.rollout.fakes import Harness, World, canary_body


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await KubeApi.connect(apiserver.kubeconfig)
    await install_crds(client)
    for namespace in ("test", "flagger-system"):
        await create_namespace(client, namespace)
    yield client
    await client.close()


@pytest.fixture
async def secrets_cache(api: KubeApi) -> AsyncIterator[WatchCache]:
    cache = WatchCache(api, SECRETS, "test", watch_timeout_seconds=5)
    await cache.start()
    yield cache
    await cache.stop()


def secret_body(name: str, namespace: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


async def test_alert_providers_are_read_from_the_api(api: KubeApi) -> None:
    await api.create(
        ALERT_PROVIDERS,
        "flagger-system",
        provider_body("on-call", "flagger-system", type="msteams", secretRef={"name": "teams"}),
    )
    providers = KubeAlertProviders(api)

    provider = await providers.get_alert_provider("flagger-system", "on-call")
    assert (provider.type, provider.secret_name, provider.channel, provider.username) == (
        "msteams",
        "teams",
        "general",
        "flagger",
    )
    with pytest.raises(NotFoundError, match=r'alertproviders\.flagger\.app "absent" not found'):
        await providers.get_alert_provider("test", "absent")


async def test_a_cached_provider_is_served_without_a_request(api: KubeApi, apiserver: ApiServer) -> None:
    await api.create(
        ALERT_PROVIDERS, "test", provider_body("chat", type="gchat", address="http://127.0.0.1/")
    )
    cache = WatchCache(api, ALERT_PROVIDERS, "test", watch_timeout_seconds=5)
    await cache.start()
    try:
        gets_before = sum(
            1 for r in apiserver.request_log if r.verb == "get" and r.resource == "alertproviders"
        )
        provider = await KubeAlertProviders(api, cache).get_alert_provider("test", "chat")
        gets_after = sum(
            1 for r in apiserver.request_log if r.verb == "get" and r.resource == "alertproviders"
        )
    finally:
        await cache.stop()
    assert provider.type == "gchat"
    assert gets_after == gets_before


async def test_failed_canary_alert_end_to_end(
    api: KubeApi, secrets_cache: WatchCache, chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    """The tutorial's failure (two failed checks, threshold 2) reaches the on-call chat with its reason."""
    await api.create(SECRETS, "test", secret_body("on-call-url", "test", {"address": chat.url("/on-call")}))
    await api.create(
        ALERT_PROVIDERS,
        "test",
        provider_body("on-call", type="slack", channel="on-call", secretRef={"name": "on-call-url"}),
    )
    await api.create(
        ALERT_PROVIDERS,
        "flagger-system",
        provider_body("team", "flagger-system", type="msteams", address=chat.url("/team")),
    )

    async def secret_cached() -> bool:
        return secrets_cache.get("test", "on-call-url") is not None

    await eventually(secret_cached, what="the Secret in the watch cache")

    body = canary_body(namespace="test", threshold=2)
    body["spec"]["analysis"]["alerts"] = [
        {"name": "on-call", "severity": "error", "providerRef": {"name": "on-call"}},
        {"name": "team", "severity": "info", "providerRef": {"name": "team", "namespace": "flagger-system"}},
    ]
    world = World(body)
    harness = Harness(world)
    sender = build_alert_sender(
        AlertSettings(cluster_name="prod-eu"),
        session,
        AlertSources(KubeAlertProviders(api), CachedSecrets(api, secrets_cache)),
    )
    recorder = KubeRecorder(api, alert_sender=sender)
    harness.ports = dataclasses.replace(harness.ports, recorder=recorder)

    await harness.bootstrap()
    world.set_image("podinfo:2")
    await harness.ticks(2)  # new revision detected, then iteration 1
    world.results = [
        AnalysisResult(
            passed=False, events=(Event.warning("Halt podinfo.test advancement success rate 69.17% < 99%"),)
        ),
        AnalysisResult(
            passed=False, events=(Event.warning("Halt podinfo.test advancement success rate 61.39% < 99%"),)
        ),
    ]
    await harness.ticks(3)
    assert world.phase == Phase.FAILED

    on_call = [request for request in chat.requests if request.path == "/on-call"]
    team = [request.json() for request in chat.requests if request.path == "/team"]
    assert [request.json()["attachments"][0]["text"] for request in on_call] == [
        "Failed checks threshold reached 2"
    ]
    attachment = on_call[0].json()["attachments"][0]
    assert (on_call[0].json()["channel"], attachment["color"], attachment["author_name"]) == (
        "on-call",
        "danger",
        "podinfo.test",
    )
    assert attachment["fields"] == [{"title": "Cluster", "value": "prod-eu", "short": False}]
    assert [card["sections"][0]["activityTitle"] for card in team] == [
        "New Deployment detected, initialization completed.",
        "New revision detected, progressing canary analysis.",
        "Failed checks threshold reached 2",
    ]
    assert [card["themeColor"] for card in team] == ["0076D7", "0076D7", "FF0000"]
    assert {fact["name"]: fact["value"] for fact in team[0]["sections"][0]["facts"]} == {
        "Cluster": "prod-eu",
        "Target": "Deployment/podinfo.test",
        "Failed checks threshold": "2",
        "Progress deadline": "60s",
        "Traffic routing": "Blue/Green",
    }

    # The same tick recorded the Kubernetes event that says why.
    events = (await api.list(EVENTS, "test"))["items"]
    assert "Rolling back podinfo.test failed checks threshold reached 2" in [
        event.get("note") for event in events
    ]
