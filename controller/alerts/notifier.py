"""The notifier interface, the alert errors, and the checks every chat's hook URL goes through."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from controller.alerts.message import Notification
from controller.errors import FlagmanError


class AlertError(FlagmanError):
    """An alert could not be routed or delivered; logged by the sender, never raised into a tick."""


class AlertConfigError(AlertError):
    """A notifier cannot be built: bad hook URL, empty channel or username, unknown provider type."""


class AlertDeliveryError(AlertError):
    """The chat service was unreachable, too slow, or answered with an error."""


class Notifier(Protocol):
    """One configured chat destination."""

    @property
    def url(self) -> str:
        """Where the payload is posted (after any rewriting, e.g. Discord's `/slack` suffix)."""
        ...

    async def post(self, notification: Notification) -> None:
        """Render and send; raises AlertDeliveryError."""
        ...


def redact_url(url: str) -> str:
    """Scheme and host only: chat hook URLs carry their secret in the path (hooks.slack.com/services/...)."""
    scheme, separator, rest = url.partition("://")
    prefix = f"{scheme}://" if separator else ""
    if not separator:
        rest = url
    authority, _, tail = rest.partition("/")
    authority, _, query = authority.partition("?")
    host = authority.rsplit("@", 1)[-1]  # never show user info
    return prefix + host + ("/..." if tail or query else "")


def require_hook_url(url: str, what: str) -> str:
    """Return `url` when it is an absolute http(s) URL; Flagger's wording, with the secret path hidden."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertConfigError(f"invalid {what} URL {redact_url(url)!r}: expected http(s)://host[:port]/path")
    return url


def require_value(value: str, what: str) -> str:
    if not value:
        raise AlertConfigError(f"empty {what}")
    return value
