"""Provider type -> notifier (Flagger's notifier factory)."""

from __future__ import annotations

from controller.alerts.discord import DiscordNotifier
from controller.alerts.gchat import GChatNotifier
from controller.alerts.msteams import MSTeamsNotifier
from controller.alerts.notifier import AlertConfigError, Notifier
from controller.alerts.rocket import RocketNotifier
from controller.alerts.routing import NotifierConfig
from controller.alerts.slack import SlackNotifier
from controller.alerts.transport import JsonPoster


def build_notifier(config: NotifierConfig, poster: JsonPoster) -> Notifier:
    """Raises AlertConfigError for an unusable URL, an empty channel/username or an unknown type.

    The bearer token is Slack's only (bot tokens for `chat.postMessage`); the other chats ignore it.
    """
    if config.type == "slack":
        return SlackNotifier(
            poster,
            config.url,
            username=config.username,
            channel=config.channel,
            proxy=config.proxy,
            token=config.token,
        )
    if config.type == "discord":
        return DiscordNotifier(
            poster, config.url, username=config.username, channel=config.channel, proxy=config.proxy
        )
    if config.type == "rocket":
        return RocketNotifier(
            poster, config.url, username=config.username, channel=config.channel, proxy=config.proxy
        )
    if config.type == "msteams":
        return MSTeamsNotifier(poster, config.url, proxy=config.proxy)
    if config.type == "gchat":
        return GChatNotifier(poster, config.url, proxy=config.proxy)
    raise AlertConfigError(f"provider {config.type} not supported")
