"""A real rollout followed in headless Chromium: the controller process, the real load tester, a Prometheus
stand-in on loopback and the sandbox API server (the integration bench of tests/controller/integration)
run two Blue/Green releases of podinfo while the dashboard, opened once, follows them over SSE.

The page is never reloaded: a MutationObserver in the page records every row the SSE stream puts in,
and the test asserts on that record, on what the page shows, and on what the API server holds. Every
wait is on an observable condition with a bounded timeout; the 1 s analysis interval keeps the test short.
Screenshots are kept as artefacts (the directory is printed; $FLAGMAN_ARTEFACTS to choose it).
"""

from __future__ import annotations

import asyncio
import io
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from controller.kube.api import CANARIES, KubeApi
from dashboard import report_cli
from sandbox.apiserver.testing import ApiServer
from tests.controller.integration.backends import Target
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import (
    ControllerProcess,
    RolloutSimulator,
    start_loadtester,
    start_prometheus_stub,
)
from tests.controller.integration.scenarios import deploy_podinfo, set_image, tutorial_webhooks
from tests.controller.kube import objects
from tests.controller.kube.support import create_namespace, install_crds
from tests.dashboard.conftest import running_dashboard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ITERATIONS = 25
STAGE_MS = 45_000  # the longest any stage may take on a busy machine (each takes seconds)

# Records the row after each change the SSE stream makes: [phase, "i/N", paused]. A reload would lose it.
RECORDER = """() => {
  window.seen = [];
  const tbody = document.querySelector('#canaries tbody');
  const note = () => {
    const tr = tbody.querySelector('tr');
    if (!tr) return;
    const iteration = tr.querySelector('.iteration').textContent;
    const now = [tr.dataset.phase, iteration, tr.classList.contains('paused')];
    const last = window.seen[window.seen.length - 1];
    if (!last || last.join() !== now.join()) window.seen.push(now);
  };
  note();
  new MutationObserver(note).observe(tbody, {childList: true});
}"""


@pytest.fixture
async def bench(apiserver: ApiServer, tmp_path: pathlib.Path) -> AsyncIterator[Bench]:
    """The integration bench on the emulator: controller process, load tester, Prometheus stand-in."""
    prometheus, prometheus_runner = await start_prometheus_stub()
    loadtester, loadtester_url = start_loadtester(tmp_path / "loadtester.log")
    target = Target.emulator(apiserver)
    api = await KubeApi.connect(target.admin_kubeconfig, user_agent="flagman-tests")
    await install_crds(api)
    await create_namespace(api, target.namespace)
    rollouts = RolloutSimulator(api)
    await rollouts.start()
    controller = ControllerProcess(
        target.controller_kubeconfig,
        prometheus.url,
        tmp_path / "controller.log",
        # a 1 s analysis followed live: the plots' points saved each tick, not every 10 s
        extra_args=["-analysis-history-save-interval=0s"],
    )
    try:
        yield Bench(target, api, prometheus, loadtester_url, rollouts, controller)
    finally:
        controller.stop()
        await rollouts.stop()
        await api.close()
        loadtester.stop()
        await prometheus_runner.cleanup()


def _iteration(record: list[Any]) -> int:
    return int(str(record[1]).split("/")[0])


def _in_order(phases: list[str], wanted: list[str]) -> bool:
    """``wanted`` appears in ``phases`` in this order (other phases may come between)."""
    rest = iter(phases)
    return all(phase in rest for phase in wanted)


async def test_a_real_rollout_followed_live_in_the_browser(
    bench: Bench, browser_context: object, artefacts: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from playwright.async_api import BrowserContext, Route, expect

    assert isinstance(browser_context, BrowserContext)
    await deploy_podinfo(bench)
    canary = objects.tutorial_canary(interval="1s", webhooks=tutorial_webhooks(bench))
    # More iterations than a promote needs on a busy machine: the promote lands well before the end.
    canary["spec"]["analysis"]["iterations"] = ITERATIONS
    await bench.create(CANARIES, canary)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    kubeconfig = bench.target.admin_kubeconfig

    async with running_dashboard(kubeconfig, allow_actions=True) as url:
        page = await browser_context.new_page()
        await page.goto(f"{url}/canary/test/podinfo")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        row = page.locator("#row-test\\/podinfo")
        await expect(row.locator(".phase")).to_have_text("Initialized")
        await page.evaluate(RECORDER)
        shot = 0

        async def screenshot(name: str) -> None:
            nonlocal shot
            shot += 1
            await page.screenshot(path=str(artefacts / f"{shot}-{name}.png"), full_page=True)

        await screenshot("initialized")

        # Release 1: podinfo 3.1.1. The row follows the analysis, iteration by iteration.
        await set_image(bench, "stefanprodan/podinfo:3.1.1")
        await page.wait_for_function(
            "() => parseInt(document.querySelector('#canaries .iteration').textContent) >= 2",
            timeout=STAGE_MS,
        )
        await expect(page.locator("#analysis")).to_contain_text("request-success-rate", timeout=STAGE_MS)
        await screenshot("progressing")

        # Pause: the annotation is written as the user; the page shows it, the controller honours it.
        await page.locator("#action-pause").click()
        await expect(page.locator("#action-result")).to_have_text(
            "podinfo.test paused by sandbox", timeout=STAGE_MS
        )
        await expect(page.locator("#paused")).to_contain_text("Paused by sandbox", timeout=STAGE_MS)
        await expect(page.locator("#action-resume")).to_be_visible()
        await expect(page.locator("#action-pause")).to_be_hidden()
        await bench.wait_message("skipping canary run as object is paused by sandbox", within=STAGE_MS / 1000)
        paused_at = int((await bench.canary())["status"]["iterations"])
        await screenshot("paused")

        # Resume: the analysis goes on past where it stood.
        await page.locator("#action-resume").click()
        await expect(page.locator("#paused")).to_have_text("", timeout=STAGE_MS)
        await page.wait_for_function(
            f"() => parseInt(document.querySelector('#canaries .iteration').textContent) > {paused_at}",
            timeout=STAGE_MS,
        )

        # Promote now: the remaining iterations are skipped.
        await page.locator("#action-promote").click()
        await expect(page.locator("#action-result")).to_contain_text(
            "promote requested for podinfo.test", timeout=STAGE_MS
        )
        await expect(row.locator(".phase")).to_have_text("Succeeded", timeout=STAGE_MS)
        await expect(page.locator("#request")).to_contain_text(
            "Promotion of podinfo.test requested by sandbox (via kubectl-flagman):"
            " skipping the rest of the analysis",
            timeout=STAGE_MS,
        )
        await expect(page.locator("#analysis")).to_contain_text("run 1 (Succeeded)", timeout=STAGE_MS)
        await expect(page.locator("#analysis")).to_contain_text(
            "skipping canary run as object is paused by sandbox", timeout=STAGE_MS
        )
        await screenshot("promoted")

        # Release 2: podinfo 3.1.2 with request durations of 2 s: two failed checks, then the rollback.
        bench.prometheus.duration_seconds = 2.0
        await set_image(bench, "stefanprodan/podinfo:3.1.2")
        await expect(row.locator(".phase")).to_have_text("Failed", timeout=STAGE_MS)
        await expect(page.locator("#analysis")).to_contain_text("run 2 (Failed)", timeout=STAGE_MS)
        await expect(page.locator("#metric-request-duration + p .fail")).to_have_text(
            re.compile(r"[1-9]\d* failed")
        )
        await screenshot("failed")

        seen: list[list[Any]] = await page.evaluate("() => window.seen")
        phases = [str(record[0]) for record in seen]
        assert _in_order(
            phases, ["Initialized", "Progressing", "Promoting", "Succeeded", "Progressing", "Failed"]
        ), seen
        first = seen[: phases.index("Succeeded")]
        iterations = [_iteration(record) for record in first if record[0] == "Progressing"]
        assert len(set(iterations)) >= 3 and iterations == sorted(iterations), f"advancing: {seen}"
        assert max(iterations) < ITERATIONS, f"promoted before the last iteration: {seen}"
        while_paused = {_iteration(record) for record in first if record[2]}
        assert while_paused, f"the pause reached the row: {seen}"
        assert while_paused <= {paused_at - 1, paused_at}, f"no advance once the controller paused: {seen}"
        assert navigations == [], "followed over SSE: never reloaded"

        # The run picker: the first run again, and its report as PNG from the dashboard.
        await page.locator("#run-picker").select_option("1")
        await expect(page.locator("#analysis")).to_contain_text("run 1 (Succeeded)")
        await expect(page.locator("#analysis")).to_contain_text("0 failed")
        await screenshot("run-1-picked")
        png_link = await page.locator("#report-png").get_attribute("href")
        assert png_link == "/canary/test/podinfo/report?run=1&format=png"
        answer = await page.request.get(url + png_link)
        assert answer.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(await answer.body())) as image:
            assert image.format == "PNG" and image.size[0] > 500 and image.size[1] > 600

    # `flagman report` of the failed run, opened in the same browser with the network off.
    report = tmp_path / "report"
    argv = ["podinfo", "-n", "test", "--kubeconfig", kubeconfig, "-o"]
    assert await asyncio.to_thread(report_cli.main, [*argv, str(report / "failed.html")]) == 0
    assert await asyncio.to_thread(report_cli.main, [*argv, str(report / "failed.png")]) == 0
    with Image.open(report / "failed.png") as image:
        assert image.format == "PNG"
    requested: list[str] = []

    async def no_network(route: Route) -> None:
        requested.append(route.request.url)
        await (route.continue_() if route.request.url.startswith("file://") else route.abort())

    await page.close()  # its EventSource would try to reconnect to the stopped dashboard
    await browser_context.set_offline(True)
    offline = await browser_context.new_page()
    await offline.route("**/*", no_network)
    await offline.goto((report / "failed.html").as_uri())
    await expect(offline.locator("#outcome")).to_have_text("Failed")
    await expect(offline.locator(".plot svg")).to_have_count(3)
    await offline.screenshot(path=str(artefacts / "report-failed.png"), full_page=True)
    assert requested == [(report / "failed.html").as_uri()], "the report loads nothing but itself"
    kept = sorted(path.name for path in await asyncio.to_thread(lambda: list(artefacts.iterdir())))
    assert len(kept) == 7 and all(name.endswith(".png") for name in kept), kept
