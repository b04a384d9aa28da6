"""Slack: an incoming webhook, or `chat.postMessage` with a bot token (spec 6.4).

The payload is one attachment (colour, author `{canary}.{ns}`, the message as markdown, the fields);
Discord and Rocket.Chat reuse it with their own URL rule or colours.
"""

from __future__ import annotations

import json
from typing import Any

from controller.alerts.hook import HookNotifier
from controller.alerts.message import Notification
from controller.alerts.notifier import AlertDeliveryError, require_hook_url, require_value
from controller.alerts.transport import JsonPoster

SLACK_COLORS = ("good", "danger")
"""(info and warn, error)."""


def slack_payload(
    notification: Notification, *, channel: str, username: str, colors: tuple[str, str] = SLACK_COLORS
) -> dict[str, Any]:
    """Flagger's `SlackPayload`, keys in its order; no top-level `text`, so chats show the attachment."""
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": colors[1] if notification.is_error else colors[0],
                "author_name": notification.subject,
                "text": notification.message,
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": field.name, "value": field.value, "short": False}
                    for field in notification.fields
                ],
            }
        ],
    }


def _api_refusal(body: str) -> str | None:
    """`chat.postMessage` answers 200 with `{"ok": false, "error": ...}` when it refuses a message."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("ok") is False:
        return str(answer.get("error") or "unknown error")
    return None


class SlackNotifier(HookNotifier):
    def __init__(
        self,
        poster: JsonPoster,
        url: str,
        *,
        username: str,
        channel: str,
        proxy: str = "",
        token: str = "",
    ) -> None:
        super().__init__(poster, require_hook_url(url, "Slack hook"), proxy=proxy)
        self.username = require_value(username, "Slack username")
        self.channel = require_value(channel, "Slack channel")
        self.token = token

    def payload(self, notification: Notification) -> dict[str, Any]:
        return slack_payload(notification, channel=self.channel, username=self.username)

    async def post(self, notification: Notification) -> None:
        """With a bot token: `chat.postMessage`, authorised, whose 200 answer may still be a refusal."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        body = await self._poster.post(
            self.url, self.payload(notification), proxy=self.proxy, headers=headers
        )
        if self.token and (refusal := _api_refusal(body)) is not None:
            raise AlertDeliveryError(f"sending notification failed: Slack API error: {refusal}")
