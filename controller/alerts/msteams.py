"""Microsoft Teams: an Office 365 connector `MessageCard` (spec 6.4)."""

from __future__ import annotations

from typing import Any

from controller.alerts.hook import HookNotifier
from controller.alerts.message import Notification
from controller.alerts.notifier import require_hook_url
from controller.alerts.transport import JsonPoster

THEME_COLORS = ("0076D7", "FF0000")


def msteams_payload(notification: Notification) -> dict[str, Any]:
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": THEME_COLORS[1] if notification.is_error else THEME_COLORS[0],
        "summary": notification.subject,
        "sections": [
            {
                "activityTitle": notification.message,
                "activitySubtitle": notification.subject,
                "facts": [{"name": field.name, "value": field.value} for field in notification.fields],
            }
        ],
    }


class MSTeamsNotifier(HookNotifier):
    def __init__(self, poster: JsonPoster, url: str, *, proxy: str = "") -> None:
        super().__init__(poster, require_hook_url(url, "MS Teams webhook"), proxy=proxy)

    def payload(self, notification: Notification) -> dict[str, Any]:
        return msteams_payload(notification)
