"""The alert sender the recorder calls: route, filter, render and post; log every failure, raise none.

Flagger posts to each matching provider one after the other, each with a 5 s deadline, inside the tick;
here the providers of one alert are posted to concurrently, so a tick waits for the slowest chat, not
for the sum of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from controller.alerts.message import Notification, notification_for
from controller.alerts.notifier import AlertConfigError, AlertError, Notifier, redact_url
from controller.alerts.notifiers import build_notifier
from controller.alerts.routing import (
    global_notifier_config,
    provider_namespace,
    receives,
    resolve_provider,
)
from controller.alerts.settings import AlertSettings
from controller.alerts.sources import AlertSources
from controller.alerts.transport import DEFAULT_TIMEOUT_SECONDS, JsonPoster
from controller.api import Canary
from controller.api.canary import Alert
from controller.rollout.ports import AlertMessage

logger = logging.getLogger("controller.alerts")

AlertSender = Callable[[Canary, AlertMessage], Awaitable[None]]


class AlertDispatcher:
    """Implements the recorder's `alert_sender(canary, alert)` seam."""

    def __init__(
        self,
        poster: JsonPoster,
        sources: AlertSources | None,
        *,
        global_notifier: Notifier | None = None,
        cluster_name: str = "",
        no_cross_namespace_refs: bool = False,
    ) -> None:
        self.poster = poster
        self.sources = sources
        self.global_notifier = global_notifier
        self.cluster_name = cluster_name
        self.no_cross_namespace_refs = no_cross_namespace_refs

    async def __call__(self, canary: Canary, alert: AlertMessage) -> None:
        notification = notification_for(canary, alert, cluster_name=self.cluster_name)
        entries = canary.analysis.alerts
        if not entries:
            await self._send_global(canary, notification)
            return
        wanted = [entry for entry in entries if receives(entry, alert.severity)]
        await asyncio.gather(*(self._send_to_provider(canary, entry, notification) for entry in wanted))

    async def _send_global(self, canary: Canary, notification: Notification) -> None:
        if self.global_notifier is None:
            logger.debug("alert (no notifier configured): %s", notification.message, extra=_log(canary))
            return
        try:
            await self.global_notifier.post(notification)
        except AlertError as error:
            logger.error("alert can't be sent: postMessage failed: %s", error, extra=_log(canary))

    async def _send_to_provider(self, canary: Canary, entry: Alert, notification: Notification) -> None:
        namespace = provider_namespace(canary, entry)
        key = f"{entry.provider_name}.{namespace}"
        try:
            notifier = await self._notifier_for(canary, entry, namespace)
        except AlertConfigError as error:
            logger.error("%s", _prefixed(error, key), extra=_log(canary))
            return
        except AlertError as error:
            logger.error("%s", error, extra=_log(canary))
            return
        except Exception:  # a broken source must not stop the other providers; the tick never sees it
            logger.exception("alert provider %s error", key, extra=_log(canary))
            return
        try:
            await notifier.post(notification)
        except AlertError as error:
            logger.error(
                "alert provider %s send error: postMessage failed: %s", key, error, extra=_log(canary)
            )
        except Exception:  # one broken provider must not stop the others; the tick never sees it
            logger.exception("alert provider %s send error", key, extra=_log(canary))

    async def _notifier_for(self, canary: Canary, entry: Alert, namespace: str) -> Notifier:
        key = f"{entry.provider_name}.{namespace}"
        if self.no_cross_namespace_refs and namespace != canary.namespace:
            raise AlertError(
                f"alert provider {key} error: cross-namespace references are not allowed"
                " (-no-cross-namespace-refs)"
            )
        if self.sources is None:
            raise AlertError(f"alert provider {key} error: AlertProviders cannot be read by this controller")
        config = await resolve_provider(self.sources, namespace, entry.provider_name)
        return build_notifier(config, self.poster)


def _prefixed(error: AlertError, key: str) -> str:
    text = str(error)
    return text if text.startswith("alert provider ") else f"alert provider {key} error: {text}"


def _log(canary: Canary) -> dict[str, str]:
    return {"canary": canary.key}


def build_global_notifier(settings: AlertSettings, poster: JsonPoster) -> Notifier | None:
    """The notifier from `-slack-*`/`-msteams-*`; an unusable configuration is logged and disabled."""
    config = global_notifier_config(settings)
    if config is None:
        return None
    try:
        notifier = build_notifier(config, poster)
    except AlertConfigError as error:
        logger.error("Notifier %s: global %s notifications are disabled", error, config.type)
        return None
    logger.info("Notifications enabled for %s %s", config.type, redact_url(notifier.url))
    return notifier


def build_alert_sender(
    settings: AlertSettings,
    session: aiohttp.ClientSession,
    sources: AlertSources | None,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> AlertSender | None:
    """The recorder's `alert_sender`; None only when there is nowhere an alert could ever go.

    `session` is the controller's shared aiohttp session (closed by `controller.wiring`, not here).
    """
    poster = JsonPoster(session, timeout_seconds=timeout_seconds)
    global_notifier = build_global_notifier(settings, poster)
    if global_notifier is None and sources is None:
        return None
    return AlertDispatcher(
        poster,
        sources,
        global_notifier=global_notifier,
        cluster_name=settings.cluster_name,
        no_cross_namespace_refs=settings.no_cross_namespace_refs,
    )
