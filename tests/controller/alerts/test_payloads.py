"""Each chat's exact JSON (spec 6.4), as received by a loopback server over real HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp

from controller.alerts.discord import DiscordNotifier, slack_compatible_url
from controller.alerts.gchat import GChatNotifier
from controller.alerts.message import Field, Notification
from controller.alerts.msteams import MSTeamsNotifier
from controller.alerts.rocket import RocketNotifier
from controller.alerts.slack import SlackNotifier
from controller.alerts.transport import JsonPoster
from controller.rollout.ports import AlertSeverity
from tests.controller.alerts.conftest import ChatServer

FAILED = Notification(
    workload="podinfo",
    namespace="test",
    message="Failed checks threshold reached 2",
    severity=AlertSeverity.ERROR,
    fields=(Field("Cluster", "prod-eu"),),
)
INITIALIZED = Notification(
    workload="podinfo",
    namespace="test",
    message="New Deployment detected, initialization completed.",
    severity=AlertSeverity.INFO,
    fields=(
        Field("Target", "Deployment/podinfo.test"),
        Field("Failed checks threshold", "2"),
        Field("Progress deadline", "60s"),
        Field("Traffic routing", "Blue/Green"),
    ),
)
WAITING = Notification("podinfo", "test", "Canary is waiting for approval.", AlertSeverity.WARN)


def slack_like(
    channel: str, username: str, color: str, text: str, fields: list[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": color,
                "author_name": "podinfo.test",
                "text": text,
                "mrkdwn_in": ["text"],
                "fields": [{"title": title, "value": value, "short": False} for title, value in fields],
            }
        ],
    }


async def test_slack_attachment_with_fields(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    notifier = SlackNotifier(
        JsonPoster(session), chat.url("/services/T0/B0/secret"), username="flagger", channel="general"
    )
    await notifier.post(INITIALIZED)
    await notifier.post(FAILED)
    await notifier.post(WAITING)

    assert [request.path for request in chat.requests] == ["/services/T0/B0/secret"] * 3
    assert all(request.method == "POST" for request in chat.requests)
    assert chat.requests[0].headers["Content-Type"] == "application/json"
    assert "Authorization" not in chat.requests[0].headers
    assert chat.payloads() == [
        slack_like(
            "general",
            "flagger",
            "good",
            "New Deployment detected, initialization completed.",
            [
                ("Target", "Deployment/podinfo.test"),
                ("Failed checks threshold", "2"),
                ("Progress deadline", "60s"),
                ("Traffic routing", "Blue/Green"),
            ],
        ),
        slack_like(
            "general", "flagger", "danger", "Failed checks threshold reached 2", [("Cluster", "prod-eu")]
        ),
        slack_like("general", "flagger", "good", "Canary is waiting for approval.", []),
    ]
    assert "text" not in chat.payloads()[0]  # no top-level text: the attachment is the message


async def test_slack_bot_token_is_a_bearer_header(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    chat.body = '{"ok": true, "channel": "C1", "ts": "1.2"}'
    notifier = SlackNotifier(
        JsonPoster(session), chat.url("/api/chat.postMessage"), username="bot", channel="C1", token="xoxb-1"
    )
    await notifier.post(WAITING)
    assert chat.requests[0].headers["Authorization"] == "Bearer xoxb-1"
    assert chat.payloads()[0]["channel"] == "C1"
    assert chat.payloads()[0]["username"] == "bot"


async def test_discord_posts_the_slack_payload_to_the_slack_endpoint(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    notifier = DiscordNotifier(
        JsonPoster(session), chat.url("/api/webhooks/1/tok"), username="flagger", channel="ops"
    )
    await notifier.post(FAILED)
    assert chat.requests[0].path == "/api/webhooks/1/tok/slack"
    assert chat.payloads() == [
        slack_like("ops", "flagger", "danger", "Failed checks threshold reached 2", [("Cluster", "prod-eu")])
    ]


def test_discord_slack_suffix_is_added_once_and_keeps_the_query() -> None:
    assert (
        slack_compatible_url("https://discord.com/api/webhooks/1/t")
        == "https://discord.com/api/webhooks/1/t/slack"
    )
    assert (
        slack_compatible_url("https://discord.com/api/webhooks/1/t/slack")
        == "https://discord.com/api/webhooks/1/t/slack"
    )
    assert (
        slack_compatible_url("https://discord.com/api/webhooks/1/t/")
        == "https://discord.com/api/webhooks/1/t/slack"
    )
    assert (
        slack_compatible_url("http://127.0.0.1:8080/api/webhooks/1/t?wait=true&thread_id=9")
        == "http://127.0.0.1:8080/api/webhooks/1/t/slack?wait=true&thread_id=9"
    )


async def test_rocket_uses_its_own_colours(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    notifier = RocketNotifier(
        JsonPoster(session), chat.url("/hooks/abc"), username="flagger", channel="general"
    )
    await notifier.post(WAITING)
    await notifier.post(FAILED)
    assert [payload["attachments"][0]["color"] for payload in chat.payloads()] == ["#0076D7", "#FF0000"]
    assert chat.payloads()[1] == slack_like(
        "general", "flagger", "#FF0000", "Failed checks threshold reached 2", [("Cluster", "prod-eu")]
    )


async def test_msteams_message_card(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    notifier = MSTeamsNotifier(JsonPoster(session), chat.url("/webhookb2/x"))
    await notifier.post(INITIALIZED)
    await notifier.post(FAILED)
    assert chat.payloads() == [
        {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": "0076D7",
            "summary": "podinfo.test",
            "sections": [
                {
                    "activityTitle": "New Deployment detected, initialization completed.",
                    "activitySubtitle": "podinfo.test",
                    "facts": [
                        {"name": "Target", "value": "Deployment/podinfo.test"},
                        {"name": "Failed checks threshold", "value": "2"},
                        {"name": "Progress deadline", "value": "60s"},
                        {"name": "Traffic routing", "value": "Blue/Green"},
                    ],
                }
            ],
        },
        {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": "FF0000",
            "summary": "podinfo.test",
            "sections": [
                {
                    "activityTitle": "Failed checks threshold reached 2",
                    "activitySubtitle": "podinfo.test",
                    "facts": [{"name": "Cluster", "value": "prod-eu"}],
                }
            ],
        },
    ]


async def test_google_chat_card(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    notifier = GChatNotifier(JsonPoster(session), chat.url("/v1/spaces/AAA/messages"))
    await notifier.post(FAILED)
    assert chat.payloads() == [
        {
            "cards": [
                {
                    "header": {
                        "title": "Flagger",
                        "subtitle": "podinfo.test",
                        "imageUrl": "https://flagger.app/favicon.png",
                    },
                    "sections": [
                        {
                            "widgets": [
                                {
                                    "textParagraph": {
                                        "text": "<font color=#848484><strong>"
                                        "Failed checks threshold reached 2</strong></font>"
                                    }
                                }
                            ]
                        },
                        {
                            "widgets": [
                                {
                                    "textParagraph": {
                                        "text": "Cluster<br>"
                                        "<font color=#848484><strong>prod-eu</strong></font>"
                                    }
                                }
                            ]
                        },
                    ],
                }
            ]
        }
    ]
