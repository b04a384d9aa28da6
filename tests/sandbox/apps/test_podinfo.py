"""The podinfo demo app as a real process over real HTTP on its own loopback IP."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families


def free_loopback_ip() -> str:
    """A random 127.x.y.z whose podinfo ports are free, so parallel test runs never collide."""
    for _ in range(50):
        ip = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        try:
            for port in (9898, 9797):
                with socket.socket() as probe:
                    probe.bind((ip, port))
        except OSError:
            continue
        return ip
    raise RuntimeError("no free loopback address")


@pytest.fixture(scope="module")
def podinfo() -> Iterator[str]:
    ip = free_loopback_ip()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sandbox.apps.podinfo", "--host", ip, "--port", "9898"),
            *("--metrics-port", "9797", "--version", "3.1.1", "--hostname", "podinfo-abc-xyz"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, 9797), timeout=0.2):
                break
        except OSError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("podinfo did not start listening")
    yield ip
    process.terminate()
    assert process.wait(timeout=10) == 0


async def get(url: str, method: str = "GET", data: str | None = None) -> tuple[int, dict[str, object] | str]:
    async with aiohttp.ClientSession() as session, session.request(method, url, data=data) as response:
        text = await response.text()
        if response.content_type == "application/json":
            return response.status, json.loads(text)
        return response.status, text


async def test_root_reports_version_and_hostname(podinfo: str) -> None:
    status, body = await get(f"http://{podinfo}:9898/")
    assert status == 200
    assert isinstance(body, dict)
    assert body["version"] == "3.1.1"
    assert body["hostname"] == "podinfo-abc-xyz"


async def test_health_probes_and_version(podinfo: str) -> None:
    assert await get(f"http://{podinfo}:9898/healthz") == (200, {"status": "OK"})
    assert await get(f"http://{podinfo}:9898/readyz") == (200, {"status": "OK"})
    assert await get(f"http://{podinfo}:9898/version") == (200, {"version": "3.1.1", "commit": ""})


async def test_token_is_a_signed_jwt(podinfo: str) -> None:
    status, body = await get(f"http://{podinfo}:9898/token", method="POST", data="anon")
    assert status == 200
    assert isinstance(body, dict)
    token = str(body["token"])
    assert token.count(".") == 2
    assert body["expires_at"]


async def test_token_validates_with_its_bearer_header(podinfo: str) -> None:
    _, body = await get(f"http://{podinfo}:9898/token", method="POST", data="test")
    assert isinstance(body, dict)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://{podinfo}:9898/token/validate", headers={"Authorization": f"Bearer {body['token']}"}
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["token_name"] == "test"
        forged = str(body["token"])[:-2] + "xx"
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://{podinfo}:9898/token/validate", headers={"Authorization": f"Bearer {forged}"}
        ) as bad,
    ):
        assert bad.status == 401
    assert (await get(f"http://{podinfo}:9898/token/validate"))[0] == 401


async def test_echo_and_headers(podinfo: str) -> None:
    assert await get(f"http://{podinfo}:9898/echo", method="POST", data="ping") == (202, "ping")
    status, headers = await get(f"http://{podinfo}:9898/headers")
    assert status == 200 and isinstance(headers, dict) and "Host" in headers


async def test_token_works_with_curl_and_grep_like_the_tutorial(podinfo: str) -> None:
    """The tutorial's smoke test: `curl -sd 'anon' http://...:9898/token | grep token`."""
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", f"curl -sd 'anon' http://{podinfo}:9898/token | grep token"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("code", [200, 404, 500, 503])
async def test_status_returns_the_requested_code(podinfo: str, code: int) -> None:
    status, body = await get(f"http://{podinfo}:9898/status/{code}")
    assert status == code
    assert body == {"status": code}


@pytest.mark.parametrize("bad", ["abc", "42", "700"])
async def test_status_rejects_bad_codes(podinfo: str, bad: str) -> None:
    status, body = await get(f"http://{podinfo}:9898/status/{bad}")
    assert status == 400
    assert isinstance(body, dict) and "error" in body


async def test_delay_waits(podinfo: str) -> None:
    started = time.monotonic()
    status, body = await get(f"http://{podinfo}:9898/delay/0.3")
    assert status == 200
    assert body == {"delay": 0.3}
    assert time.monotonic() - started >= 0.3
    assert (await get(f"http://{podinfo}:9898/delay/999"))[0] == 400
    assert (await get(f"http://{podinfo}:9898/delay/soon"))[0] == 400


def histogram_count(exposition: str, **labels: str) -> float:
    for family in text_string_to_metric_families(exposition):
        if family.name != "http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count") and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_metrics_histogram_counts_requests_by_route_and_status(podinfo: str) -> None:
    _, before = await get(f"http://{podinfo}:9797/metrics")
    assert isinstance(before, str)
    for _ in range(3):
        await get(f"http://{podinfo}:9898/status/500")
    _, after = await get(f"http://{podinfo}:9797/metrics")
    assert isinstance(after, str)
    labels = {"method": "GET", "path": "/status/{code}", "status": "500"}
    assert histogram_count(after, **labels) - histogram_count(before, **labels) == 3
    assert "http_request_duration_seconds_bucket" in after


async def test_metrics_are_also_served_on_the_main_port(podinfo: str) -> None:
    status, body = await get(f"http://{podinfo}:9898/metrics")
    assert status == 200
    assert isinstance(body, str) and "http_request_duration_seconds" in body


async def test_unknown_path_is_404_and_counted(podinfo: str) -> None:
    status, _ = await get(f"http://{podinfo}:9898/nope")
    assert status == 404
    _, metrics = await get(f"http://{podinfo}:9797/metrics")
    assert isinstance(metrics, str)
    assert histogram_count(metrics, path="unmatched", status="404") >= 1
