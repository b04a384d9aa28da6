"""Transport: proxies (configured and from the environment), failures, timeouts, URL checks."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from controller.alerts.gchat import GChatNotifier
from controller.alerts.message import Notification
from controller.alerts.msteams import MSTeamsNotifier
from controller.alerts.notifier import AlertConfigError, AlertDeliveryError, redact_url
from controller.alerts.slack import SlackNotifier
from controller.alerts.transport import JsonPoster, normalize_proxy
from controller.rollout.ports import AlertSeverity
from tests.controller.alerts.conftest import ChatServer

MESSAGE = Notification(
    "podinfo", "test", "Canary analysis completed successfully, promotion finished.", AlertSeverity.INFO
)
# A name that never resolves: reaching it at all would mean the proxy was bypassed.
REMOTE_HOOK = "http://hooks.chat.invalid/services/T0/B0/secret"


def slack(poster: JsonPoster, url: str, **options: str) -> SlackNotifier:
    return SlackNotifier(poster, url, username="flagger", channel="general", **options)


async def test_configured_proxy_receives_the_request(
    proxy: ChatServer, session: aiohttp.ClientSession
) -> None:
    await slack(JsonPoster(session), REMOTE_HOOK, proxy=proxy.url()).post(MESSAGE)
    [request] = proxy.requests
    assert request.raw_path == REMOTE_HOOK  # absolute-form request line: sent through the proxy
    assert request.headers["Host"] == "hooks.chat.invalid"
    assert request.json()["attachments"][0]["text"] == MESSAGE.message


async def test_proxy_without_scheme_means_http(proxy: ChatServer, session: aiohttp.ClientSession) -> None:
    """Flagger's docs write `slack.proxy=my-http-proxy.com`; Go cannot use that, Flagman reads it as http."""
    assert normalize_proxy("my-http-proxy.com:3128") == "http://my-http-proxy.com:3128"
    await MSTeamsNotifier(JsonPoster(session), REMOTE_HOOK, proxy=f"{proxy.host}:{proxy.port}").post(MESSAGE)
    assert [request.raw_path for request in proxy.requests] == [REMOTE_HOOK]


async def test_environment_proxy_is_used_like_go(
    proxy: ChatServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    await GChatNotifier(JsonPoster(session), REMOTE_HOOK).post(MESSAGE)
    assert [request.raw_path for request in proxy.requests] == [REMOTE_HOOK]


async def test_environment_proxy_respects_no_proxy_and_loopback(
    chat: ChatServer, proxy: ChatServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", "hooks.chat.invalid")
    with pytest.raises(AlertDeliveryError):  # went direct, and the name does not resolve
        await slack(JsonPoster(session), REMOTE_HOOK).post(MESSAGE)
    monkeypatch.delenv("NO_PROXY")
    await slack(JsonPoster(session), chat.url("/hook")).post(MESSAGE)  # loopback: never proxied
    assert proxy.requests == []
    assert [request.raw_path for request in chat.requests] == ["/hook"]


async def test_non_2xx_is_an_error_with_status_and_body(
    chat: ChatServer, session: aiohttp.ClientSession
) -> None:
    chat.status, chat.body = 404, "no_service"
    with pytest.raises(AlertDeliveryError) as raised:
        await slack(JsonPoster(session), chat.url("/services/x")).post(MESSAGE)
    assert str(raised.value) == "sending notification failed: status 404 Not Found: no_service"

    chat.status, chat.body = 500, ""
    with pytest.raises(AlertDeliveryError) as raised:
        await slack(JsonPoster(session), chat.url("/services/x")).post(MESSAGE)
    assert str(raised.value) == "sending notification failed: status 500 Internal Server Error"


async def test_accepted_is_a_success(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    """Teams workflow webhooks answer 202; Flagger treats anything but 200 as a failure."""
    chat.status, chat.body = 202, ""
    await MSTeamsNotifier(JsonPoster(session), chat.url("/workflows/1")).post(MESSAGE)
    assert len(chat.requests) == 1


async def test_a_slow_chat_times_out(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    chat.delay = 2.0
    with pytest.raises(AlertDeliveryError) as raised:
        await slack(JsonPoster(session, timeout_seconds=0.2), chat.url("/slow")).post(MESSAGE)
    assert str(raised.value) == "sending notification failed: no response within 0.2s"


async def test_unreachable_chat(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AlertDeliveryError) as raised:
        await slack(JsonPoster(session), f"http://127.0.0.1:{port}/hook").post(MESSAGE)
    assert "sending notification failed: ClientConnectorError" in str(raised.value)


async def test_slack_api_refusal_is_an_error(chat: ChatServer, session: aiohttp.ClientSession) -> None:
    chat.body = '{"ok": false, "error": "channel_not_found"}'
    notifier = slack(JsonPoster(session), chat.url("/api/chat.postMessage"), token="xoxb-1")
    with pytest.raises(AlertDeliveryError) as raised:
        await notifier.post(MESSAGE)
    assert str(raised.value) == "sending notification failed: Slack API error: channel_not_found"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("hooks.slack.com/services/T0/B0/secret", "hooks.slack.com/..."),
        ("ftp://hooks.slack.com/services/T0/B0/secret", "ftp://hooks.slack.com/..."),
        ("", ""),
        ("https://", "https://"),
    ],
)
async def test_invalid_hook_urls_are_refused_without_leaking_the_secret(
    url: str, shown: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(AlertConfigError) as raised:
        slack(JsonPoster(session), url)
    assert str(raised.value) == f"invalid Slack hook URL {shown!r}: expected http(s)://host[:port]/path"
    assert "secret" not in str(raised.value)


async def test_empty_channel_and_username_are_refused(session: aiohttp.ClientSession) -> None:
    with pytest.raises(AlertConfigError, match=r"^empty Slack channel$"):
        SlackNotifier(JsonPoster(session), "https://hooks.slack.com/x", username="flagger", channel="")
    with pytest.raises(AlertConfigError, match=r"^empty Slack username$"):
        SlackNotifier(JsonPoster(session), "https://hooks.slack.com/x", username="", channel="general")


def test_redact_url_keeps_scheme_host_and_port() -> None:
    assert redact_url("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/..."
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert redact_url("http://user:pw@proxy:3128/?token=1") == "http://proxy:3128/..."
