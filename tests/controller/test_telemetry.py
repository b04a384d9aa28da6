"""Flagger's metric names and the health endpoints, over real loopback HTTP."""

from __future__ import annotations

import socket

import aiohttp

from controller.telemetry import ControllerMetrics, Health, TelemetryServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_health_and_readiness_over_http() -> None:
    metrics = ControllerMetrics()
    problems: list[str] = []
    health = Health(checks=[lambda: problems[0] if problems else None])
    port = _free_port()
    server = TelemetryServer(metrics, health, host="127.0.0.1", port=port)
    await server.start()
    try:
        metrics.set_info("0.1.0", "kubernetes")
        metrics.set_total("test", 2)
        metrics.set_status("podinfo", "test", "Progressing")
        metrics.set_status("backend", "test", "Failed")
        metrics.set_status("frontend", "test", "Succeeded")
        metrics.set_weight("podinfo", "test", primary=0, canary=100)
        metrics.observe_duration("podinfo", "test", 0.25)
        metrics.set_metric_analysis("podinfo", "test", "request-success-rate", 99.5)
        metrics.count_success("podinfo", "test")
        metrics.count_success("podinfo", "test", analysis_status="skipped")
        metrics.count_failure("podinfo", "test")
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 503
            health.ready = True
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 200
            async with session.get(f"{base}/healthz") as response:
                assert (response.status, await response.text()) == (200, "OK")
            problems.append("canary watch silent for 300s")
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 500
                assert "canary watch silent" in await response.text()
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                text = await response.text()
    finally:
        await server.stop()
    expected_lines = [
        'flagger_info{mesh_provider="kubernetes",version="0.1.0"} 1.0',
        'flagger_canary_total{namespace="test"} 2.0',
        'flagger_canary_status{name="podinfo",namespace="test"} 0.0',
        'flagger_canary_status{name="backend",namespace="test"} 2.0',
        'flagger_canary_status{name="frontend",namespace="test"} 1.0',
        'flagger_canary_weight{namespace="test",workload="podinfo-primary"} 0.0',
        'flagger_canary_weight{namespace="test",workload="podinfo"} 100.0',
        'flagger_canary_duration_seconds_count{name="podinfo",namespace="test"} 1.0',
        'flagger_canary_metric_analysis{metric="request-success-rate",name="podinfo",namespace="test"} 99.5',
        f"flagger_canary_successes_total{{{counter_labels('completed')}}} 1.0",
        f"flagger_canary_successes_total{{{counter_labels('skipped')}}} 1.0",
        f"flagger_canary_failures_total{{{counter_labels('completed')}}} 1.0",
    ]
    lines = set(text.splitlines())
    for line in expected_lines:
        assert line in lines, line


def counter_labels(analysis_status: str) -> str:
    return f'analysis_status="{analysis_status}",deployment_strategy="canary",name="podinfo",namespace="test"'


def test_a_raising_check_is_reported_not_raised() -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    assert Health(checks=[broken]).problems() == ["liveness check failed: boom"]
