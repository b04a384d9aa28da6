"""The controller process itself: health and metrics endpoints, SIGTERM, a missing CRD, deletion (no
finalizer), the per-Canary loops, and a failed promotion (the apex Service then selects the canary pods
that passed the analysis)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from controller.errors import NotFoundError
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
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")

    async def counted() -> str | None:
        status, text = await _get(f"{base}/metrics")
        return text if status == 200 and "flagger_canary_successes_total{" in text else None

    text = await eventually(counted, what="the success counter")
    lines = set(text.splitlines())
    assert 'flagger_info{mesh_provider="kubernetes",version="0.1.0"} 1.0' in lines
    assert f'flagger_canary_total{{namespace="{bench.ns}"}} 1.0' in lines
    assert f'flagger_canary_status{{name="podinfo",namespace="{bench.ns}"}} 1.0' in lines
    success = (
        'flagger_canary_successes_total{analysis_status="completed",deployment_strategy="blue-green",'
        f'name="podinfo",namespace="{bench.ns}"}} 1.0'
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
    await bench.api.request("DELETE", CANARIES.path(bench.ns, "podinfo"))

    async def gone() -> bool:
        try:
            await bench.canary()
        except Exception:
            return True
        return False

    await eventually(gone, within=30, what="the Canary to be deleted (finalizer released)")
    # The finalizer's own events may still be on their way; once they stop arriving, a live loop would
    # would keep writing them (the interval is 200 ms), so quiet periods show the loop is gone.
    settled = await _event_count_once_quiet(bench)
    await asyncio.sleep(2.0)
    assert len(await bench.events()) == settled  # no more ticks


async def _event_count_once_quiet(bench: Bench, quiet: float = 0.5, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    count = len(await bench.events())
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        latest = len(await bench.events())
        if latest == count:
            return count
        count = latest
    raise AssertionError(f"events kept arriving for {within} s after the Canary was deleted")


def _controller_requests(bench: Bench, since: int, name: str = "podinfo") -> list[str]:
    """`METHOD path` of the controller's requests about Canary `name`, and
    of all its writes."""
    path = CANARIES.path(bench.ns, name)
    return [
        f"{record.method} {record.path}"
        for record in list(bench.server.request_log)[since:]
        if record.user_agent.startswith("flagman-controller/")
        and (record.path == path or record.path.startswith(path + "/") or record.method != "GET")
    ]


@pytest.mark.emulator_only  # the emulator's request log
async def test_a_deleted_canarys_loop_stops_and_writes_nothing_more(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    assert f"PATCH {CANARIES.path(bench.ns, 'podinfo')}/status" in _controller_requests(bench, 0)

    await bench.api.request("DELETE", CANARIES.path(bench.ns, "podinfo"))
    with pytest.raises(NotFoundError):  # no finalizer: gone as soon as the DELETE answers
        await bench.canary()
    await asyncio.sleep(0.5)  # a tick that was running when the Canary went may still finish
    stopped_since = len(bench.server.request_log)
    # Seven analysis intervals: a loop still running would read the Canary, now missing from the
    # controller's cache, from the API at every tick.
    await asyncio.sleep(1.5)
    assert _controller_requests(bench, stopped_since) == []
    log = bench.controller.log_tail(400)
    assert f"Deleting podinfo.{bench.ns} from cache" in log
    assert any("canary loop stopped" in line and f"podinfo.{bench.ns}" in line for line in log.splitlines())
    assert "canary loop did not stop" not in log


async def test_a_canary_has_no_finalizer_while_the_controller_runs(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await asyncio.sleep(0.5)  # several ticks later
    metadata = (await bench.canary())["metadata"]
    assert "finalizers" not in metadata
    assert not [key for key in metadata.get("annotations") or {} if key.startswith("kopf.")]  # no kopf state


async def test_deleting_a_canary_while_the_controller_is_stopped_completes_at_once(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    assert bench.controller.stop() == 0  # as after `helm uninstall`
    await bench.api.request("DELETE", CANARIES.path(bench.ns, "podinfo"))
    with pytest.raises(NotFoundError):
        await bench.canary()


@pytest.mark.emulator_only  # a Deployment stuck past its progress deadline
async def test_failed_promotion_routes_the_apex_to_the_canary(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.extra_args.append(f"-namespace={bench.ns}")  # also covers the namespaced watches
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
            f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}",
            f"Promotion of podinfo.{bench.ns} failed, primary not ready: "
            f"podinfo-primary.{bench.ns} not ready: "
            'deployment "podinfo-primary" exceeded its progress deadline',
        ],
    )
    assert f"Canary failed! Scaling down podinfo.{bench.ns}" not in messages

    async def apex_on_canary() -> bool:
        apex = await bench.api.get(SERVICES, bench.ns, "podinfo")
        return bool(apex["spec"]["selector"] == {"app": "podinfo"})

    await eventually(apex_on_canary, what="the apex Service selecting the canary pods")
    assert (await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo"))["spec"]["replicas"] > 0
