"""Rocket.Chat: the Slack payload with Rocket's colours, posted to its incoming webhook."""

from __future__ import annotations

from typing import Any

from controller.alerts.hook import HookNotifier
from controller.alerts.message import Notification
from controller.alerts.notifier import require_hook_url, require_value
from controller.alerts.slack import slack_payload
from controller.alerts.transport import JsonPoster

ROCKET_COLORS = ("#0076D7", "#FF0000")


class RocketNotifier(HookNotifier):
    def __init__(self, poster: JsonPoster, url: str, *, username: str, channel: str, proxy: str = "") -> None:
        super().__init__(poster, require_hook_url(url, "Rocket hook"), proxy=proxy)
        self.username = require_value(username, "Rocket username")
        self.channel = require_value(channel, "Rocket channel")

    def payload(self, notification: Notification) -> dict[str, Any]:
        return slack_payload(notification, channel=self.channel, username=self.username, colors=ROCKET_COLORS)
