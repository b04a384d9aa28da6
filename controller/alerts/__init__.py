"""Chat notifications ("alerts", spec 6.2-6.4): Slack, MS Teams, Discord, Rocket.Chat and Google Chat.

The state machine asks the recorder port to `alert(canary, AlertMessage)`; the recorder hands it to the
sender built here by `build_alert_sender`, which routes it to the canary's AlertProviders (or to the
global notifier from `-slack-url`/`-msteams-url`), filters by severity and posts each chat's payload.
Delivery problems are logged and never raised into the tick.
"""

from controller.alerts.message import Field, Notification, notification_for
from controller.alerts.notifier import AlertConfigError, AlertDeliveryError, AlertError, Notifier
from controller.alerts.sender import AlertDispatcher, build_alert_sender
from controller.alerts.settings import AlertSettings
from controller.alerts.sources import AlertProviderSource, AlertSources, SecretSource

__all__ = [
    "AlertConfigError",
    "AlertDeliveryError",
    "AlertDispatcher",
    "AlertError",
    "AlertProviderSource",
    "AlertSettings",
    "AlertSources",
    "Field",
    "Notification",
    "Notifier",
    "SecretSource",
    "build_alert_sender",
    "notification_for",
]
