"""Who receives an alert (spec 6.3): the severity filter, AlertProvider resolution, the global notifier.

A canary without `analysis.alerts` goes to the global notifier (`-msteams-url` wins over `-slack-url`).
With `alerts`, each entry subscribes at a severity: `info` gets everything, `warn` gets warn and error,
`error` gets errors only. Flagger's empty severity matches nothing; here it means `info`, as Flagger's
documentation says.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.alerts.notifier import AlertConfigError, AlertError
from controller.alerts.settings import AlertSettings
from controller.alerts.sources import AlertSources
from controller.api import Canary
from controller.api.canary import Alert
from controller.errors import CanaryValidationError, FlagmanError
from controller.rollout.ports import AlertSeverity

DEFAULT_USERNAME = "flagger"
DEFAULT_CHANNEL = "general"

_SEVERITY_RANK = {AlertSeverity.INFO: 0, AlertSeverity.WARN: 1, AlertSeverity.ERROR: 2}


@dataclass(frozen=True)
class NotifierConfig:
    """Everything needed to build one notifier, whatever it was configured from."""

    type: str
    url: str
    proxy: str = ""
    token: str = ""
    username: str = DEFAULT_USERNAME
    channel: str = DEFAULT_CHANNEL


def subscribed_severity(alert: Alert) -> AlertSeverity:
    """The lowest severity an `analysis.alerts` entry receives; empty means info (the documented default)."""
    return AlertSeverity(alert.severity) if alert.severity else AlertSeverity.INFO


def receives(alert: Alert, severity: AlertSeverity) -> bool:
    return _SEVERITY_RANK[severity] >= _SEVERITY_RANK[subscribed_severity(alert)]


def provider_namespace(canary: Canary, alert: Alert) -> str:
    return alert.provider_namespace or canary.namespace


def global_notifier_config(settings: AlertSettings) -> NotifierConfig | None:
    """From the flags (env overrides already applied); None when no URL is set."""
    if settings.msteams_url:
        return NotifierConfig(type="msteams", url=settings.msteams_url, proxy=settings.msteams_proxy_url)
    if settings.slack_url:
        return NotifierConfig(
            type="slack",
            url=settings.slack_url,
            proxy=settings.slack_proxy_url,
            token=settings.slack_token,
            username=settings.slack_user,
            channel=settings.slack_channel,
        )
    return None


async def resolve_provider(sources: AlertSources, namespace: str, name: str) -> NotifierConfig:
    """Read the AlertProvider and its Secret. Raises AlertError worded as Flagger logs it."""
    key = f"{name}.{namespace}"
    try:
        provider = await sources.providers.get_alert_provider(namespace, name)
    except CanaryValidationError as error:
        raise AlertConfigError(
            f"alert provider {key} error: invalid AlertProvider: {'; '.join(error.problems)}"
        ) from error
    except FlagmanError as error:
        raise AlertError(f"alert provider {key} error: {error}") from error
    url, proxy, token = provider.address, provider.proxy, ""
    if provider.secret_name:
        try:
            secret = await sources.secrets.get_secret(namespace, provider.secret_name)
        except FlagmanError as error:
            raise AlertError(f"alert provider {key} secretRef error: {error}") from error
        if not secret.get("address"):
            raise AlertConfigError(
                f"alert provider {key} secret {provider.secret_name} does not contain an address"
            )
        url = secret["address"]
        proxy = secret.get("proxy") or proxy
        token = secret.get("token", "")
    return NotifierConfig(
        type=provider.type,
        url=url,
        proxy=proxy,
        token=token,
        username=provider.username or DEFAULT_USERNAME,
        channel=provider.channel or DEFAULT_CHANNEL,
    )
