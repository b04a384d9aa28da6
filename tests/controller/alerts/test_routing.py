"""Routing (spec 6.3): severity filter, AlertProviders and their Secrets, the global notifier, fields."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from controller.alerts import AlertSources, build_alert_sender
from controller.alerts.message import metadata_fields, notification_for
from controller.alerts.sender import AlertDispatcher
from controller.alerts.settings import AlertSettings
from controller.alerts.slack import SlackNotifier
from controller.api.templates import AlertProvider
from controller.rollout.ports import AlertMessage, AlertSeverity
from controller.settings import parse_settings
from controller.wiring import alert_settings
from tests.controller.alerts.conftest import ChatServer
from tests.controller.alerts.helpers import MemorySources, canary

INFO = AlertMessage("Canary analysis completed successfully, promotion finished.", AlertSeverity.INFO)
WARN = AlertMessage("Canary is waiting for approval.", AlertSeverity.WARN)
ERROR = AlertMessage("Failed checks threshold reached 2", AlertSeverity.ERROR)
TUTORIAL_FLAGS = [
    "-slack-url=https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK",
    "-slack-channel=general",
    "-slack-user=flagger",
]


def sender_for(
    settings: AlertSettings, session: aiohttp.ClientSession, sources: MemorySources
) -> AlertDispatcher:
    sender = build_alert_sender(settings, session, AlertSources(sources, sources))
    assert isinstance(sender, AlertDispatcher)
    return sender


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def texts_by_path(chat: ChatServer) -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    for request in chat.requests:
        received.setdefault(request.path, []).append(request.json()["attachments"][0]["text"])
    return received


async def test_severity_filter(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    sources = MemorySources()
    for name in ("all", "warnings", "errors", "unset"):
        sources.add_provider(name, type="slack", address=chat.url(f"/{name}"))
    subscriptions = [
        {"name": "a", "severity": "info", "providerRef": {"name": "all"}},
        {"name": "b", "severity": "warn", "providerRef": {"name": "warnings"}},
        {"name": "c", "severity": "error", "providerRef": {"name": "errors"}},
        {"name": "d", "providerRef": {"name": "unset"}},  # FIX: Flagger sends nothing here
    ]
    sender = sender_for(AlertSettings(), session, sources)
    subject = canary(alerts=subscriptions)
    for alert in (INFO, WARN, ERROR):
        await sender(subject, alert)

    assert texts_by_path(chat) == {
        "/all": [INFO.message, WARN.message, ERROR.message],
        "/warnings": [WARN.message, ERROR.message],
        "/errors": [ERROR.message],
        "/unset": [INFO.message, WARN.message, ERROR.message],
    }


async def test_provider_from_secret_ref(
    chat: ChatServer, proxy: ChatServer, session: aiohttp.ClientSession
) -> None:
    """The Secret's `address` overrides the spec's; `token` becomes a bearer header; `proxy` is used."""
    remote = "http://slack.chat.invalid/api/chat.postMessage"
    sources = MemorySources()
    sources.add_provider(
        "on-call",
        type="slack",
        channel="on-call",
        username="canary-bot",
        address=chat.url("/ignored"),
        secretRef={"name": "slack-bot"},
    )
    sources.secrets[("test", "slack-bot")] = {"address": remote, "token": "xoxb-42", "proxy": proxy.url()}
    sender = sender_for(AlertSettings(), session, sources)

    await sender(
        canary(alerts=[{"name": "x", "severity": "error", "providerRef": {"name": "on-call"}}]), ERROR
    )

    assert chat.requests == []
    [request] = proxy.requests
    assert request.raw_path == remote
    assert request.headers["Authorization"] == "Bearer xoxb-42"
    assert request.json()["channel"] == "on-call"
    assert request.json()["username"] == "canary-bot"
    assert sources.reads == [("alertprovider", "test", "on-call"), ("secret", "test", "slack-bot")]


async def test_token_is_slack_only(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    sources = MemorySources()
    sources.add_provider("teams", type="msteams", secretRef={"name": "teams"})
    sources.secrets[("test", "teams")] = {"address": chat.url("/teams"), "token": "not-for-teams"}
    await sender_for(AlertSettings(), session, sources)(
        canary(alerts=[{"name": "t", "severity": "info", "providerRef": {"name": "teams"}}]), INFO
    )
    [request] = chat.requests
    assert request.path == "/teams"
    assert "Authorization" not in request.headers
    assert request.json()["@type"] == "MessageCard"


async def test_broken_providers_are_logged_and_the_others_still_receive(
    chat: ChatServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sources = MemorySources()
    sources.add_provider("good", type="discord", address=chat.url("/api/webhooks/1/t"))
    sources.add_provider("down", type="rocket", address=chat.url("/down"))
    sources.add_provider("no-address", type="slack", secretRef={"name": "empty"})
    sources.add_provider("no-secret", type="gchat", secretRef={"name": "absent"})
    sources.add_provider("bad-url", type="slack", secretRef={"name": "bad-url"})
    sources.secrets[("test", "empty")] = {"token": "t"}
    sources.secrets[("test", "bad-url")] = {"address": "hooks.slack.com/services/T/B/secret"}
    sources.providers[("test", "bad-type")] = {
        "metadata": {"name": "bad-type", "namespace": "test"},
        "spec": {"type": "pager", "address": "http://127.0.0.1/"},
    }
    chat.answers["/down"] = (503, "maintenance")
    names = ["good", "down", "no-address", "no-secret", "bad-url", "bad-type", "missing"]
    alerts = [{"name": name, "severity": "info", "providerRef": {"name": name}} for name in names]

    with caplog.at_level(logging.ERROR, logger="controller.alerts"):
        await sender_for(AlertSettings(), session, sources)(canary(alerts=alerts), ERROR)  # never raises

    assert texts_by_path(chat) == {"/api/webhooks/1/t/slack": [ERROR.message], "/down": [ERROR.message]}
    assert sorted(errors(caplog)) == sorted(
        [
            "alert provider down.test send error: postMessage failed: "
            "sending notification failed: status 503 Service Unavailable: maintenance",
            "alert provider no-address.test secret empty does not contain an address",
            'alert provider no-secret.test secretRef error: secrets "absent" not found',
            "alert provider bad-url.test error: invalid Slack hook URL 'hooks.slack.com/...': "
            "expected http(s)://host[:port]/path",
            "alert provider bad-type.test error: invalid AlertProvider: "
            "spec.type: must be one of discord, gchat, msteams, rocket, slack, got 'pager'",
            'alert provider missing.test error: alertproviders.flagger.app "missing" not found',
        ]
    )
    assert all(getattr(record, "canary", None) == "podinfo.test" for record in caplog.records)


async def test_provider_namespace_and_cross_namespace_refs(
    chat: ChatServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sources = MemorySources()
    sources.add_provider("shared", namespace="flagger-system", type="slack", address=chat.url("/shared"))
    subject = canary(
        alerts=[
            {
                "name": "s",
                "severity": "info",
                "providerRef": {"name": "shared", "namespace": "flagger-system"},
            }
        ]
    )
    await sender_for(AlertSettings(), session, sources)(subject, INFO)
    assert texts_by_path(chat) == {"/shared": [INFO.message]}

    with caplog.at_level(logging.ERROR, logger="controller.alerts"):
        await sender_for(AlertSettings(no_cross_namespace_refs=True), session, sources)(subject, INFO)
    assert len(chat.requests) == 1
    assert errors(caplog) == [
        "alert provider shared.flagger-system error: cross-namespace references are not allowed"
        " (-no-cross-namespace-refs)"
    ]


async def test_global_slack_notifier_from_the_tutorial_flags(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    tutorial = sender_for(alert_settings(parse_settings(TUTORIAL_FLAGS, {})), session, MemorySources())
    assert isinstance(tutorial.global_notifier, SlackNotifier)
    assert tutorial.global_notifier.url == "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK"
    assert (tutorial.global_notifier.channel, tutorial.global_notifier.username) == ("general", "flagger")

    # The same flags pointed at the loopback chat, plus a cluster name: the failed-canary alert arrives.
    flags = [
        f"-slack-url={chat.url('/services/YOUR/SLACK/WEBHOOK')}",
        *TUTORIAL_FLAGS[1:],
        "-cluster-name=prod-eu",
    ]
    sender = sender_for(alert_settings(parse_settings(flags, {})), session, MemorySources())
    await sender(canary(), ERROR)
    [payload] = chat.payloads()
    assert payload["channel"] == "general"
    assert payload["username"] == "flagger"
    assert payload["attachments"][0]["text"] == "Failed checks threshold reached 2"
    assert payload["attachments"][0]["color"] == "danger"
    assert payload["attachments"][0]["fields"] == [{"title": "Cluster", "value": "prod-eu", "short": False}]


async def test_global_notifier_environment_and_msteams_precedence(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    environ = {"SLACK_URL": chat.url("/from-env"), "SLACK_TOKEN": "xoxb-env"}
    await sender_for(
        alert_settings(parse_settings(["-slack-url=http://127.0.0.1:1/flag", "-slack-channel=ops"], environ)),
        session,
        MemorySources(),
    )(canary(), INFO)
    [request] = chat.requests
    assert request.path == "/from-env"
    assert request.headers["Authorization"] == "Bearer xoxb-env"

    environ = {"MSTEAMS_URL": chat.url("/teams")}
    await sender_for(alert_settings(parse_settings(TUTORIAL_FLAGS, environ)), session, MemorySources())(
        canary(), INFO
    )
    assert chat.requests[1].path == "/teams"
    assert chat.requests[1].json()["@type"] == "MessageCard"


async def test_global_slack_proxy(proxy: ChatServer, session: aiohttp.ClientSession) -> None:
    flags = [
        "-slack-url=http://hooks.chat.invalid/services/x",
        "-slack-channel=general",
        f"-slack-proxy-url={proxy.url()}",
    ]
    await sender_for(alert_settings(parse_settings(flags, {})), session, MemorySources())(canary(), WARN)
    assert [request.raw_path for request in proxy.requests] == ["http://hooks.chat.invalid/services/x"]


async def test_global_notifier_only_without_canary_alerts(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    sources = MemorySources()
    sources.add_provider("errors-only", type="slack", address=chat.url("/provider"))
    settings = AlertSettings(slack_url=chat.url("/global"), slack_channel="general")
    sender = sender_for(settings, session, sources)
    await sender(
        canary(alerts=[{"name": "e", "severity": "error", "providerRef": {"name": "errors-only"}}]), INFO
    )
    assert chat.requests == []  # the canary's own routing applies, even when it selects nobody
    await sender(canary(), INFO)
    assert [request.path for request in chat.requests] == ["/global"]


async def test_unusable_global_configuration_is_logged_and_disabled(
    chat: ChatServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="controller.alerts"):
        sender = build_alert_sender(
            AlertSettings(slack_url=chat.url("/hook")), session, None
        )  # no -slack-channel
    assert sender is None
    assert errors(caplog) == ["Notifier empty Slack channel: global slack notifications are disabled"]
    assert build_alert_sender(AlertSettings(), session, None) is None

    sender = sender_for(AlertSettings(slack_url=chat.url("/hook")), session, MemorySources())
    await sender(canary(), ERROR)
    assert chat.requests == []


async def test_global_delivery_failure_is_logged_not_raised(
    chat: ChatServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    chat.status, chat.body = 410, "channel_is_archived"
    sender = sender_for(
        AlertSettings(slack_url=chat.url("/hook"), slack_channel="general"), session, MemorySources()
    )
    with caplog.at_level(logging.ERROR, logger="controller.alerts"):
        await sender(canary(), ERROR)
    assert errors(caplog) == [
        "alert can't be sent: postMessage failed: "
        "sending notification failed: status 410 Gone: channel_is_archived"
    ]


def test_metadata_fields_follow_the_cluster_name() -> None:
    initialized = AlertMessage("New Deployment detected, initialization completed.", AlertSeverity.INFO, True)
    notification = notification_for(canary(), initialized, cluster_name="prod-eu")
    assert [(field.name, field.value) for field in notification.fields] == [
        ("Cluster", "prod-eu"),
        ("Target", "Deployment/podinfo.test"),
        ("Failed checks threshold", "2"),
        ("Progress deadline", "60s"),
        ("Traffic routing", "Blue/Green"),
    ]
    assert notification_for(canary(), ERROR).fields == ()


def test_traffic_routing_field_variants() -> None:
    def routing(**analysis: Any) -> str | None:
        values = {field.name: field.value for field in metadata_fields(canary(**analysis))}
        return values.get("Traffic routing")

    assert routing() == "Blue/Green"
    assert routing(iterations=None, stepWeight=10, maxWeight=50) == "Weight step: 10 max: 50"
    assert routing(iterations=None, stepWeights=[5, 10, 20], maxWeight=20) == "Weight steps: 5,10,20 max: 20"
    assert routing(match=[{"headers": {"x-canary": {"exact": "insider"}}}]) == "A/B Testing"
    defaults = {field.name: field.value for field in metadata_fields(canary(threshold=0))}
    assert defaults["Failed checks threshold"] == "1"


class ExplodingSources(MemorySources):
    """A source with a bug (not a FlagmanError) for one provider."""

    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        if name == "exploding":
            raise RuntimeError("bug in a source")
        return await super().get_alert_provider(namespace, name)


async def test_an_unexpected_failure_is_contained(
    chat: ChatServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sources = ExplodingSources()
    sources.add_provider("fine", type="slack", address=chat.url("/fine"))
    alerts = [{"name": n, "severity": "info", "providerRef": {"name": n}} for n in ("exploding", "fine")]
    sender = build_alert_sender(AlertSettings(), session, AlertSources(sources, sources))
    assert sender is not None
    with caplog.at_level(logging.ERROR, logger="controller.alerts"):
        await sender(canary(alerts=alerts), ERROR)
    assert texts_by_path(chat) == {"/fine": [ERROR.message]}
    assert errors(caplog) == ["alert provider exploding.test error"]
    assert caplog.records[-1].exc_info is not None
