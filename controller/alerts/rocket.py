"""Rocket.Chat: the Slack payload with Rocket's colours, posted to its incoming webhook."""

from __future__ import annotations

from controller.alerts.message import Notification
from controller.alerts.notifier import require_hook_url, require_value
from controller.alerts.slack import slack_payload
from controller.alerts.transport import JsonPoster

ROCKET_COLORS = ("#0076D7", "#FF0000")


class RocketNotifier:
    def __init__(self, poster: JsonPoster, url: str, *, username: str, channel: str, proxy: str = "") -> None:
        self._url = require_hook_url(url, "Rocket hook")
        self.username = require_value(username, "Rocket username")
        self.channel = require_value(channel, "Rocket channel")
        self.proxy = proxy
        self._poster = poster

    @property
    def url(self) -> str:
        return self._url

    async def post(self, notification: Notification) -> None:
        payload = slack_payload(
            notification, channel=self.channel, username=self.username, colors=ROCKET_COLORS
        )
        await self._poster.post(self._url, payload, proxy=self.proxy)
