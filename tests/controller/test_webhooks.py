"""Webhook calls against loopback servers: payload, checksum, verdicts, timeout, retries, TLS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from controller.api.canary import Canary, Webhook
from controller.api.status import CanaryStatus, Phase
from controller.errors import WebhookError
from controller.rollout.ports import Webhooks
from controller.webhooks import WebhookClient, backoff_seconds, canary_checksum, event_payload
from tests.controller.analysis.helpers import (
    RecordingServer,
    self_signed_context,
    start_https,
    tutorial_canary,
)

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class SleepRecorder:
    """Injected instead of asyncio.sleep: records the back-off without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def scripted(*answers: tuple[int, str] | tuple[int, str, dict[str, str]]) -> RecordingServer:
    """A server giving the scripted answers in order (the last one repeats)."""
    remaining = list(answers)

    async def respond(request: web.Request) -> web.StreamResponse:
        answer = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        headers = answer[2] if len(answer) > 2 else {}
        return web.Response(status=answer[0], text=answer[1], headers=headers)

    return RecordingServer(respond)


async def url_of(aiohttp_server: ServerFactory, recorder: RecordingServer) -> str:
    server = await aiohttp_server(recorder.app())
    return str(server.make_url("/hook"))


def with_status(canary: Canary, **fields: Any) -> Canary:
    return canary.with_status(CanaryStatus(**fields))


def hook(url: str, **fields: Any) -> Webhook:
    return Webhook(name=fields.pop("name", "smoke-test"), url=url, **fields)


def test_webhook_client_implements_the_webhooks_port(session: aiohttp.ClientSession) -> None:
    port: Webhooks = WebhookClient(session)
    assert callable(port.call)


async def test_payload_shape_order_and_checksum(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((200, "ok"))
    url = await url_of(aiohttp_server, recorder)
    canary = with_status(
        tutorial_canary(), last_applied_spec="5f4b7c", tracked_configs={"configmap/cfg": "abc"}
    )
    await WebhookClient(session).call(
        canary, hook(url, type="pre-rollout", metadata={"type": "bash", "cmd": "curl x"}), Phase.PROGRESSING
    )
    (request,) = recorder.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["Content-Type"] == "application/json"
    pairs = json.loads(request.body, object_pairs_hook=list)
    assert [key for key, _ in pairs] == ["name", "namespace", "phase", "checksum", "metadata"]
    payload = json.loads(request.body)
    assert payload == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": canary_checksum(canary.status),
        "metadata": {"cmd": "curl x", "type": "bash"},
    }


async def test_metadata_is_omitted_when_the_hook_has_none(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((202, ""))
    url = await url_of(aiohttp_server, recorder)
    await WebhookClient(session).call(tutorial_canary(), hook(url), Phase.WAITING)
    assert json.loads(recorder.requests[0].body).keys() == {"name", "namespace", "phase", "checksum"}


def test_checksum_identifies_the_revision_under_test() -> None:
    base = CanaryStatus(last_applied_spec="aaa", tracked_configs={"secret/s": "1"})
    same = CanaryStatus(last_applied_spec="aaa", tracked_configs={"secret/s": "1"}, phase=Phase.PROGRESSING)
    assert canary_checksum(base) == canary_checksum(same)
    assert canary_checksum(base) != canary_checksum(
        CanaryStatus(last_applied_spec="bbb", tracked_configs={"secret/s": "1"})
    )
    assert canary_checksum(base) != canary_checksum(
        CanaryStatus(last_applied_spec="aaa", tracked_configs={"secret/s": "2"})
    )
    assert canary_checksum(base) != canary_checksum(CanaryStatus(last_applied_spec="aaa"))
    assert canary_checksum(base).isalnum()


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_status_up_to_202_approves(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, status: int
) -> None:
    url = await url_of(aiohttp_server, scripted((status, "")))
    await WebhookClient(session).call(tutorial_canary(), hook(url), Phase.PROGRESSING)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (203, "non-authoritative", "non-authoritative"),
        (204, "", "status 204 No Content"),
        (403, "Forbidden: gate is closed\n", "Forbidden: gate is closed"),
        (404, "", "status 404 Not Found"),
        (501, "not implemented here", "not implemented here"),
    ],
)
async def test_other_statuses_fail_without_retry_and_carry_the_body(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, status: int, body: str, message: str
) -> None:
    recorder = scripted((status, body))
    url = await url_of(aiohttp_server, recorder)
    sleeps = SleepRecorder()
    with pytest.raises(WebhookError) as error:
        await WebhookClient(session, sleep=sleeps).call(
            tutorial_canary(), hook(url, retries=3), Phase.PROGRESSING
        )
    assert str(error.value) == message
    assert len(recorder.requests) == 1 and sleeps.waits == []


async def test_server_errors_are_retried_with_exponential_backoff_then_give_up_with_the_body(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((500, "command hey failed: exit status 1"))
    url = await url_of(aiohttp_server, recorder)
    sleeps = SleepRecorder()
    with pytest.raises(WebhookError) as error:
        await WebhookClient(session, sleep=sleeps).call(
            tutorial_canary(), hook(url, retries=3), Phase.PROGRESSING
        )
    assert str(error.value) == (
        f"POST {url} giving up after 4 attempt(s): "
        "status 500 Internal Server Error: command hey failed: exit status 1"
    )
    assert len(recorder.requests) == 4
    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_one_retry_turns_a_500_into_success(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((500, "warming up"), (200, "ok"))
    url = await url_of(aiohttp_server, recorder)
    sleeps = SleepRecorder()
    await WebhookClient(session, sleep=sleeps).call(
        tutorial_canary(), hook(url, retries=1), Phase.PROGRESSING
    )
    assert len(recorder.requests) == 2 and sleeps.waits == [1.0]
    assert recorder.requests[0].body == recorder.requests[1].body


async def test_no_retries_means_one_attempt(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((503, "busy"))
    url = await url_of(aiohttp_server, recorder)
    with pytest.raises(
        WebhookError, match=r"giving up after 1 attempt\(s\): status 503 Service Unavailable: busy$"
    ):
        await WebhookClient(session, sleep=SleepRecorder()).call(
            tutorial_canary(), hook(url), Phase.PROGRESSING
        )
    assert len(recorder.requests) == 1


async def test_retry_after_of_a_429_is_honoured(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((429, "slow down", {"Retry-After": "3"}), (200, ""))
    url = await url_of(aiohttp_server, recorder)
    sleeps = SleepRecorder()
    await WebhookClient(session, sleep=sleeps).call(
        tutorial_canary(), hook(url, retries=2), Phase.PROGRESSING
    )
    assert sleeps.waits == [3.0]


def test_backoff_doubles_from_one_second_and_caps_at_thirty() -> None:
    assert [backoff_seconds(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_each_attempt_is_bounded_by_the_hook_timeout(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.Response(text="late")

    recorder = RecordingServer(slow)
    url = await url_of(aiohttp_server, recorder)
    sleeps = SleepRecorder()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(WebhookError) as error:
        await WebhookClient(session, sleep=sleeps).call(
            tutorial_canary(), hook(url, timeout="150ms", retries=1), Phase.PROGRESSING
        )
    assert (
        str(error.value) == f'POST {url} giving up after 2 attempt(s): Post "{url}": no response within 150ms'
    )
    assert loop.time() - started < 1.5
    assert len(recorder.requests) == 2 and sleeps.waits == [1.0]


async def test_connection_refused_is_retried_and_reported(session: aiohttp.ClientSession) -> None:
    sleeps = SleepRecorder()
    url = "http://127.0.0.1:9/"
    with pytest.raises(
        WebhookError, match=rf'^POST {url} giving up after 3 attempt\(s\): Post "{url}": Cannot connect'
    ):
        await WebhookClient(session, sleep=sleeps).call(
            tutorial_canary(), hook(url, retries=2), Phase.PROGRESSING
        )
    assert sleeps.waits == [1.0, 2.0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("flagger-loadtester.test/", 'Post "flagger-loadtester.test/": unsupported protocol scheme ""'),
        ("ftp://127.0.0.1/", 'Post "ftp://127.0.0.1/": unsupported protocol scheme "ftp"'),
        ("http://", 'Post "http://": no Host in request URL'),
    ],
)
async def test_unusable_urls_fail_at_once(session: aiohttp.ClientSession, url: str, message: str) -> None:
    sleeps = SleepRecorder()
    with pytest.raises(WebhookError) as error:
        await WebhookClient(session, sleep=sleeps).call(
            tutorial_canary(), hook(url, retries=2), Phase.PROGRESSING
        )
    assert str(error.value) == message
    assert sleeps.waits == []


async def test_disable_tls_against_a_self_signed_server(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((200, "approved"))
    runner, base = await start_https(recorder.app(), self_signed_context(tmp_path))
    try:
        sleeps = SleepRecorder()
        client = WebhookClient(session, sleep=sleeps)
        with pytest.raises(WebhookError, match="certificate verify failed"):
            await client.call(tutorial_canary(), hook(f"{base}/gate", retries=2), Phase.PROGRESSING)
        assert sleeps.waits == []  # an untrusted certificate is not retried
        await client.call(tutorial_canary(), hook(f"{base}/gate", disable_tls=True), Phase.PROGRESSING)
        assert [request.path for request in recorder.requests] == ["/gate"]
    finally:
        await runner.cleanup()


async def test_event_payload_and_delivery(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    recorder = scripted((200, ""))
    url = await url_of(aiohttp_server, recorder)
    canary = with_status(tutorial_canary(), phase=Phase.PROGRESSING, last_applied_spec="x")
    event_hook = hook(url, name="events", type="event", metadata={"eventType": "spoofed", "team": "web"})
    await WebhookClient(session).send_event(
        canary,
        event_hook,
        Phase.PROGRESSING,
        "Warning",
        "Halt podinfo.test advancement success rate 69.17% < 99%",
        now=1700000000.5,
    )
    payload = json.loads(recorder.requests[0].body)
    assert payload == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": canary_checksum(canary.status),
        "metadata": {
            "eventMessage": "Halt podinfo.test advancement success rate 69.17% < 99%",
            "eventType": "Warning",
            "team": "web",
            "timestamp": "1700000000500",
        },
    }


def test_event_payload_timestamp_defaults_to_now() -> None:
    payload = event_payload(tutorial_canary(), "Initialized", "Normal", "Initialization done! podinfo.test")
    assert len(payload["metadata"]["timestamp"]) == 13
