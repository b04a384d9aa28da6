"""The tutorial's `helm upgrade -i ... --set slack.url=... --set slack.channel=general --set slack.user=...`:
the real chart renders the controller's flags, and those flags give a working Slack notifier."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess

import aiohttp
import yaml

from controller.alerts import AlertSources, build_alert_sender
from controller.alerts.sender import AlertDispatcher
from controller.alerts.slack import SlackNotifier
from controller.rollout.ports import AlertMessage, AlertSeverity
from controller.settings import parse_settings
from controller.wiring import alert_settings
from tests.controller.alerts.conftest import ChatServer
from tests.controller.alerts.helpers import MemorySources, canary

REPO = pathlib.Path(__file__).resolve().parents[3]
HELM = REPO / ".tools" / "bin" / "helm"
TUTORIAL_VALUES = {
    "slack.url": "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK",
    "slack.channel": "general",
    "slack.user": "flagger",
}


def rendered_controller_flags(values: dict[str, str]) -> list[str]:
    sets = [argument for key, value in values.items() for argument in ("--set", f"{key}={value}")]
    rendered = subprocess.run(
        [str(HELM), "template", "flagman", str(REPO / "charts" / "flagman"), *sets],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    for document in yaml.safe_load_all(rendered):
        if document and document.get("kind") == "Deployment":
            container = document["spec"]["template"]["spec"]["containers"][0]
            return list(container["command"][1:])  # after the `./flagger` entrypoint
    raise AssertionError("the chart rendered no Deployment")


async def dispatcher(flags: list[str], session: aiohttp.ClientSession) -> AlertDispatcher:
    sources = MemorySources()
    sender = build_alert_sender(
        alert_settings(parse_settings(flags, {})), session, AlertSources(sources, sources)
    )
    assert isinstance(sender, AlertDispatcher)
    return sender


async def test_tutorial_values_enable_slack(session: aiohttp.ClientSession) -> None:
    flags = await asyncio.to_thread(rendered_controller_flags, TUTORIAL_VALUES)
    sender = await dispatcher(flags, session)
    notifier = sender.global_notifier
    assert isinstance(notifier, SlackNotifier)
    assert notifier.url == TUTORIAL_VALUES["slack.url"]
    assert (notifier.channel, notifier.username, notifier.token, notifier.proxy) == (
        "general",
        "flagger",
        "",
        "",
    )


async def test_tutorial_failure_reaches_slack_with_the_cluster_name(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    values = {
        **TUTORIAL_VALUES,
        "slack.url": chat.url("/services/YOUR/SLACK/WEBHOOK"),
        "clusterName": "prod-eu",
    }
    flags = await asyncio.to_thread(rendered_controller_flags, values)
    sender = await dispatcher(flags, session)

    await sender(canary(), AlertMessage("Failed checks threshold reached 2", AlertSeverity.ERROR))

    [request] = chat.requests
    assert request.path == "/services/YOUR/SLACK/WEBHOOK"
    assert request.json() == {
        "channel": "general",
        "username": "flagger",
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": "danger",
                "author_name": "podinfo.test",
                "text": "Failed checks threshold reached 2",
                "mrkdwn_in": ["text"],
                "fields": [{"title": "Cluster", "value": "prod-eu", "short": False}],
            }
        ],
    }
