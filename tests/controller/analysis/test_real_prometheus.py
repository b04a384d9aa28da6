"""The rendered builtin queries and the tutorial's MetricTemplate against a REAL Prometheus.

A real ``prometheus`` binary runs on loopback and scrapes a tiny target served by the test, which
exposes podinfo-style ``http_request_duration_seconds`` series with the ``kubernetes_*`` labels
Flagger's builtin queries need, for a canary pod and a primary pod. This proves the queries parse,
select only the canary's pods and evaluate to the expected numbers, and that the tutorial's broken
template comes back as a failed check carrying Prometheus' parse error.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from controller.analysis import MetricAnalysis
from controller.analysis.providers import PrometheusConfig, PrometheusProvider
from controller.api.canary import Canary
from controller.errors import NoValuesError
from controller.rollout.ports import Event
from tests.data.tutorial import FIXED_TEMPLATE_QUERY, TUTORIAL_TEMPLATE_QUERY

from .helpers import (
    InMemorySecrets,
    InMemoryTemplates,
    metric_template,
    tutorial_canary,
)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason=f"prometheus binary not found ({PROMETHEUS})"),
]

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
CANARY_POD = "podinfo-7d9f8b6c5d-x2x4z"
PRIMARY_POD = "podinfo-primary-6b8c9d7f4-q8w7e"
# Requests added per scrape, by pod and status; every request takes between 100 and 250 ms.
PER_SCRAPE = {CANARY_POD: {"200": 86, "404": 4, "500": 10}, PRIMARY_POD: {"200": 10, "503": 90}}


@dataclass
class ScrapeTarget:
    scrapes: int = 0

    def exposition(self) -> str:
        self.scrapes += 1
        lines = ["# TYPE http_request_duration_seconds histogram"]
        for pod, statuses in PER_SCRAPE.items():
            for status, per_scrape in statuses.items():
                total = per_scrape * self.scrapes
                labels = (
                    f'kubernetes_namespace="test",kubernetes_pod_name="{pod}",method="GET",status="{status}"'
                )
                for bucket in BUCKETS:
                    count = total if bucket not in ("0.005", "0.01", "0.025", "0.05", "0.1") else 0
                    lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{bucket}"}} {count}')
                lines.append(f"http_request_duration_seconds_sum{{{labels}}} {total * 0.2}")
                lines.append(f"http_request_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_ready(
    process: asyncio.subprocess.Process, session: aiohttp.ClientSession, url: str
) -> None:
    """Wait for /-/ready, then until rate() has the two samples it needs."""
    for _ in range(150):
        if process.returncode is not None:
            stderr = await process.stderr.read() if process.stderr else b""
            raise RuntimeError(f"prometheus exited: {stderr.decode(errors='replace')}")
        try:
            async with session.get(f"{url}/-/ready") as response:
                if response.status == 200:
                    break
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("prometheus did not become ready within 15s")
    provider = PrometheusProvider(PrometheusConfig(address=url), session)
    for _ in range(100):
        try:
            await provider.run_query('sum(rate(http_request_duration_seconds_count{status="200"}[1m]))')
            return
        except NoValuesError:
            await asyncio.sleep(0.2)
    raise RuntimeError("no rate() data after 20s of scraping")


@pytest.fixture
async def prometheus_url(tmp_path: Path) -> AsyncIterator[str]:
    target = ScrapeTarget()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=target.exposition(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    target_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", target_port).start()

    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 250ms\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: podinfo\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
    process = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_ready(process, session, url)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
        await runner.cleanup()


async def test_builtin_queries_template_and_probe_against_real_prometheus(prometheus_url: str) -> None:
    canary = tutorial_canary()
    templates = InMemoryTemplates(
        {
            ("test", "not-found-percentage"): metric_template(
                "not-found-percentage", FIXED_TEMPLATE_QUERY, prometheus_url
            ),
            ("test", "as-published"): metric_template(
                "as-published", TUTORIAL_TEMPLATE_QUERY, prometheus_url
            ),
        }
    )
    async with aiohttp.ClientSession() as session:
        metrics = MetricAnalysis(session, templates, InMemorySecrets(), metrics_server=prometheus_url)
        await metrics.check_providers(canary)  # vector(1) answers 1

        # The canary pod answers 10% 5xx: the builtin check halts exactly like the tutorial's example.
        # The primary pod's 90% 503s must not count (the pod regex excludes "-primary-").
        result = await metrics.run_checks(canary)
        assert result.events == (Event.warning("Halt podinfo.test advancement success rate 90.00% < 99%"),)
        assert result.values["request-success-rate"] == pytest.approx(90.0)

        relaxed = tutorial_canary(
            metrics=[
                {"name": "request-success-rate", "thresholdRange": {"min": 89}, "interval": "1m"},
                {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "30s"},
                {
                    "name": "404s percentage",
                    "templateRef": {"name": "not-found-percentage"},
                    "thresholdRange": {"max": 5},
                },
            ]
        )
        result = await metrics.run_checks(relaxed)
        assert result.passed, result.events
        # P99 interpolated inside the (0.1, 0.25] bucket: 0.1 + 0.15 * 0.99 = 0.2485 s -> 248 ms.
        assert result.values["request-duration"] == 0.248
        assert result.values["404s percentage"] == pytest.approx(4.0)

        slow = tutorial_canary(metrics=[{"name": "request-duration", "thresholdRange": {"max": 200}}])
        result = await metrics.run_checks(slow)
        assert result.events == (
            Event.warning("Halt podinfo.test advancement request duration 248ms > 200ms"),
        )

        published = tutorial_canary(
            metrics=[
                {
                    "name": "404s percentage",
                    "templateRef": {"name": "as-published"},
                    "thresholdRange": {"max": 5},
                }
            ]
        )
        result = await metrics.run_checks(published)
        assert not result.passed
        (event,) = result.events
        assert event.message.startswith(
            "Metric query failed for 404s percentage: error response: Status 400 Bad Request: bad_data: "
            'invalid parameter "query": '
        )
        # e.g. ... "query": 1:143: parse error: unexpected identifier "status" in label matching, expected ...
        assert 'parse error: unexpected identifier "status" in label matching' in event.message

        # Several series (no aggregation) and no data at all, as a real Prometheus answers them.
        several = tutorial_canary(
            metrics=[
                {"name": "raw", "query": "http_request_duration_seconds_count", "thresholdRange": {"min": 0}}
            ]
        )
        (event,) = (await metrics.run_checks(several)).events
        assert event.message.startswith(
            "Prometheus query failed for raw: query returned 5 series, expected exactly one"
        )
        body = tutorial_canary().to_dict()
        body["spec"]["targetRef"]["name"] = "nothing-runs-here"
        result = await metrics.run_checks(Canary.from_dict(body))
        assert result.events == (
            Event.warning(
                "Halt advancement no values found for kubernetes metric request-success-rate "
                "probably nothing-runs-here.test is not receiving traffic: no values found"
            ),
        )
