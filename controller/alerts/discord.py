"""Discord: the Slack payload, posted to the webhook's Slack-compatible endpoint (`.../slack`)."""

from __future__ import annotations

from typing import Any

from yarl import URL

from controller.alerts.hook import HookNotifier
from controller.alerts.message import Notification
from controller.alerts.notifier import require_hook_url, require_value
from controller.alerts.slack import slack_payload
from controller.alerts.transport import JsonPoster


def slack_compatible_url(url: str) -> str:
    """Append `/slack` to the path unless it is already there; user info, port and query are kept."""
    parsed = URL(url)
    if parsed.raw_path.rstrip("/").endswith("/slack"):
        return url
    rebuilt = URL.build(
        scheme=parsed.scheme,
        user=parsed.raw_user,
        password=parsed.raw_password,
        host=parsed.raw_host or "",
        port=parsed.explicit_port,
        path=parsed.raw_path.rstrip("/") + "/slack",
        query_string=parsed.raw_query_string,
        fragment=parsed.raw_fragment,
        encoded=True,
    )
    return str(rebuilt)


class DiscordNotifier(HookNotifier):
    def __init__(self, poster: JsonPoster, url: str, *, username: str, channel: str, proxy: str = "") -> None:
        super().__init__(poster, slack_compatible_url(require_hook_url(url, "Discord hook")), proxy=proxy)
        self.username = require_value(username, "Discord username")
        self.channel = require_value(channel, "Discord channel")

    def payload(self, notification: Notification) -> dict[str, Any]:
        return slack_payload(notification, channel=self.channel, username=self.username)
