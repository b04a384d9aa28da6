"""Google Chat: a card with the message in the first section and one section per field (spec 6.4)."""

from __future__ import annotations

from typing import Any

from controller.alerts.hook import HookNotifier
from controller.alerts.message import Notification
from controller.alerts.notifier import require_hook_url
from controller.alerts.transport import JsonPoster

CARD_TITLE = "Flagger"
CARD_IMAGE = "https://flagger.app/favicon.png"


def _paragraph(text: str) -> dict[str, Any]:
    return {"widgets": [{"textParagraph": {"text": text}}]}


def gchat_payload(notification: Notification) -> dict[str, Any]:
    sections = [_paragraph(f"<font color=#848484><strong>{notification.message}</strong></font>")]
    sections.extend(
        _paragraph(f"{field.name}<br><font color=#848484><strong>{field.value}</strong></font>")
        for field in notification.fields
    )
    return {
        "cards": [
            {
                "header": {"title": CARD_TITLE, "subtitle": notification.subject, "imageUrl": CARD_IMAGE},
                "sections": sections,
            }
        ]
    }


class GChatNotifier(HookNotifier):
    def __init__(self, poster: JsonPoster, url: str, *, proxy: str = "") -> None:
        super().__init__(poster, require_hook_url(url, "Google Chat webhook"), proxy=proxy)

    def payload(self, notification: Notification) -> dict[str, Any]:
        return gchat_payload(notification)
