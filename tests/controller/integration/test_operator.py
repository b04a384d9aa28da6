"""The controller process itself: health and metrics endpoints, SIGTERM, a missing CRD, deletion, and a
failed promotion (the apex Service then selects the canary pods that passed the analysis)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from controller.kube.api import CANARIES, DEPLOYMENTS, SERVICES
from sandbox.apiserver.testing import ApiServer
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import ControllerProcess
from tests.controller.integration.scenarios import apply_canary, deploy_podinfo, set_image
from tests.controller.integration.test_tutorial import assert_in_order
from tests.controller.kube.support import eventually


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_health_metrics_and_graceful_sigterm(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    base = f"http://127.0.0.1:{bench.controller.port}"

    async def ready() -> bool:
        return (await _get(f"{base}/readyz"))[0] == 200

    await eventually(ready, within=30, what="/readyz")
    assert await _get(f"{base}/healthz") == (200, "OK")
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Succeeded")
    await bench.wait_message("Promotion completed! Scaling down podinfo.test")

    async def counted() -> str | None:
        status, text = await _get(f"{base}/metrics")
        return text if status == 200 and "flagger_canary_successes_total{" in text else None

    text = await eventually(counted, what="the success counter")
    lines = set(text.splitlines())
    assert 'flagger_info{mesh_provider="kubernetes",version="0.1.0"} 1.0' in lines
    assert 'flagger_canary_total{namespace="test"} 1.0' in lines
    assert 'flagger_canary_status{name="podinfo",namespace="test"} 1.0' in lines
    success = (
        'flagger_canary_successes_total{analysis_status="completed",deployment_strategy="blue-green",'
        'name="podinfo",namespace="test"} 1.0'
    )
    assert success in lines
    assert any(line.startswith("flagger_canary_duration_seconds_count{") for line in lines)
    assert any(
        line.startswith('flagger_canary_metric_analysis{metric="request-success-rate"') for line in lines
    )

    started = time.monotonic()
    assert bench.controller.stop() == 0
    assert time.monotonic() - started < 10
    assert "controller stopped" in bench.controller.log_tail()


async def test_start_fails_clearly_without_the_crds(apiserver: ApiServer, tmp_path: object) -> None:
    import pathlib

    log = pathlib.Path(str(tmp_path)) / "controller.log"
    controller = ControllerProcess(apiserver.kubeconfig, "http://127.0.0.1:9", log).start()
    assert controller.process is not None and controller.process.popen is not None
    code = await asyncio.to_thread(controller.process.popen.wait, 60)
    assert code == 1
    assert "install the CRDs" in log.read_text()


async def test_deleting_a_canary_stops_its_loop(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await bench.api.request("DELETE", CANARIES.path("test", "podinfo"))

    async def gone() -> bool:
        try:
            await bench.canary()
        except Exception:
            return True
        return False

    await eventually(gone, within=30, what="the Canary to be deleted (finalizer released)")
    events_before = len(await bench.events())
    await asyncio.sleep(1.0)
    assert len(await bench.events()) == events_before  # no more ticks


async def test_failed_promotion_routes_the_apex_to_the_canary(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.extra_args.append("-namespace=test")  # also covers the namespaced watches
    bench.controller.start()
    await bench.wait_phase("Initialized")
    bench.rollouts.stuck.add("podinfo-primary")  # the promoted primary will never become ready
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    canary = await bench.wait_phase("Failed")
    assert canary["status"]["canaryWeight"] == 100
    messages = await bench.messages()
    assert_in_order(
        messages,
        [
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Promotion of podinfo.test failed, primary not ready: "
            'podinfo-primary.test not ready: deployment "podinfo-primary" exceeded its progress deadline',
        ],
    )
    assert "Canary failed! Scaling down podinfo.test" not in messages

    async def apex_on_canary() -> bool:
        apex = await bench.api.get(SERVICES, "test", "podinfo")
        return bool(apex["spec"]["selector"] == {"app": "podinfo"})

    await eventually(apex_on_canary, what="the apex Service selecting the canary pods")
    assert (await bench.api.get(DEPLOYMENTS, "test", "podinfo"))["spec"]["replicas"] > 0
