"""What every chat notifier shares: a checked hook URL, an optional proxy, one JSON POST per alert."""

from __future__ import annotations

from typing import Any

from controller.alerts.message import Notification
from controller.alerts.transport import JsonPoster


class HookNotifier:
    """POSTs ``payload(notification)`` to ``url``; subclasses check the URL and render their payload."""

    def __init__(self, poster: JsonPoster, url: str, *, proxy: str = "") -> None:
        self._url = url
        self.proxy = proxy
        self._poster = poster

    @property
    def url(self) -> str:
        return self._url

    def payload(self, notification: Notification) -> dict[str, Any]:
        raise NotImplementedError

    async def post(self, notification: Notification) -> None:
        await self._poster.post(self._url, self.payload(notification), proxy=self.proxy)
