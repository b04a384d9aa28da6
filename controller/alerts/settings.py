"""What alerting takes from the controller's flags: a small typed subset of `controller.settings.Settings`
(`controller.wiring.alert_settings` fills it), so this adapter does not depend on the whole shell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertSettings:
    """`-slack-*` and `-msteams-*` (the global notifier; MS Teams wins when both are set),
    `-cluster-name` (shown in every alert) and `-no-cross-namespace-refs`."""

    slack_url: str = ""
    slack_token: str = ""
    slack_proxy_url: str = ""
    slack_channel: str = ""
    slack_user: str = "flagger"
    msteams_url: str = ""
    msteams_proxy_url: str = ""
    cluster_name: str = ""
    no_cross_namespace_refs: bool = False
