"""The dashboard and the report in real headless Chromium (Debian's, driven by Playwright), the Canary's
status written by the test (test_browser_rollout.py follows a real controller's rollout).

Screenshots are kept as artefacts under the test's tmp dir (printed), or under $FLAGMAN_ARTEFACTS.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from controller.kube.api import CANARIES
from dashboard.history import parse_history
from dashboard.report import write_report
from tests.dashboard.conftest import Sandbox, running_dashboard
from tests.dashboard.samples import history_document

pytestmark = pytest.mark.slow


async def test_dashboard_follows_a_rollout_live_and_sends_an_action(
    sandbox: Sandbox, browser_context: object, artefacts: pathlib.Path
) -> None:
    from playwright.async_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    async with running_dashboard(sandbox.server.kubeconfig, allow_actions=True) as url:
        page = await browser_context.new_page()
        await page.goto(url + "/")
        row = page.locator("#row-test\\/podinfo")
        await expect(row.locator(".phase")).to_have_text("Progressing")
        await expect(row.locator(".pct")).to_have_text("10%")
        await page.screenshot(path=str(artefacts / "1-list.png"), full_page=True)

        await sandbox.set_status(iterations=4)  # the rollout advances: no reload, the row follows
        await expect(row.locator(".pct")).to_have_text("40%")
        await expect(row.locator(".iteration")).to_have_text("4/10")
        await page.screenshot(path=str(artefacts / "2-list-advanced.png"), full_page=True)

        await row.locator("a").click()
        await page.wait_for_url(url + "/canary/test/podinfo")
        await expect(page.locator("#analysis svg")).to_have_count(3)
        await expect(page.locator("#analysis")).to_contain_text("band: ≤ 500ms")
        await sandbox.set_status(iterations=7, failedChecks=1)
        await expect(page.locator("#row-test\\/podinfo .failed")).to_have_text("1/2")
        await page.screenshot(path=str(artefacts / "3-canary.png"), full_page=True)

        await page.locator("#action-abort").click()
        await expect(page.locator("#action-result")).to_contain_text("abort requested for podinfo.test")
        await page.screenshot(path=str(artefacts / "4-abort-requested.png"), full_page=True)

        await page.locator("#run-picker").select_option("3")  # an earlier kept run
        await expect(page.locator("#analysis")).to_contain_text("run 3 (Succeeded)")
        await expect(page.locator("#analysis svg")).to_have_count(2)
        await expect(page.locator("#report-png")).to_have_attribute(
            "href", "/canary/test/podinfo/report?run=3&format=png"
        )
        await page.screenshot(path=str(artefacts / "5-run-3.png"), full_page=True)
    stored = await sandbox.api.get(CANARIES, "test", "podinfo")
    assert json.loads(stored["metadata"]["annotations"]["flagman.app/request"])["action"] == "abort"
    assert sorted(name for name in os.listdir(artefacts) if name.endswith(".png")) == [
        "1-list.png",
        "2-list-advanced.png",
        "3-canary.png",
        "4-abort-requested.png",
        "5-run-3.png",
    ]


async def test_report_renders_offline(
    tmp_path: pathlib.Path, browser_context: object, artefacts: pathlib.Path
) -> None:
    from playwright.async_api import BrowserContext, Route, expect

    assert isinstance(browser_context, BrowserContext)
    history = parse_history(history_document())
    files = write_report(history, history.run(), tmp_path / "report")
    requested: list[str] = []

    async def no_network(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file://"):
            await route.continue_()
        else:
            await route.abort()

    await browser_context.set_offline(True)
    await browser_context.route("**/*", no_network)
    page = await browser_context.new_page()
    await page.goto(files.html.as_uri())
    await expect(page.locator("#outcome")).to_have_text("Failed")
    plots = page.locator(".plot svg")
    await expect(plots).to_have_count(3)
    for index in range(3):
        box = await plots.nth(index).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50, "the plots are drawn"
    await page.screenshot(path=str(artefacts / "report.png"), full_page=True)
    assert requested == [files.html.as_uri()], "the report loads nothing but itself"
