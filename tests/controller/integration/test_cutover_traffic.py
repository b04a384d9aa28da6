"""The Blue/Green cut-over options measured with real traffic: the sandbox's real podinfo pods behind the
apex Service's proxy, the real controller process, and a client that records the version of every
response (``bench/cutover``). The figures, and the same promotion without the switch, are re-measured by
``.venv/bin/python -m bench.cutover`` (docs/release-control.md has the numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cutover.recorder import analyse
from bench.cutover.sandbox import NEW, OLD, cutover_sandbox
from controller.api.bluegreen_options import SCALE_DOWN_DELAY_ANNOTATION, SELECTOR_SWITCH_ANNOTATION

pytestmark = [pytest.mark.timeout(240)]

UNDO_SECONDS = 1.0  # from the request written to every new request served by the previous version


async def test_selector_switch_serves_no_request_from_a_mixed_set_and_undo_moves_traffic_at_once(
    tmp_path: Path,
) -> None:
    options = {SELECTOR_SWITCH_ANNOTATION: "true", SCALE_DOWN_DELAY_ANNOTATION: "300"}
    async with cutover_sandbox(tmp_path, options) as sandbox:
        cutover = analyse(await sandbox.promote(NEW), NEW)
        # Old, then new, exactly once: no request after the first new answer got the old version.
        assert cutover.versions == (OLD, NEW), cutover
        assert cutover.changes == 1 and not cutover.mixed and cutover.errors == 0, cutover
        await sandbox.wait_ready("podinfo-previous")

        asked, _, samples = await sandbox.undo(via_plugin=False)
        back = analyse(samples, OLD)
        assert back.versions == (NEW, OLD) and back.changes == 1 and not back.mixed, back
        assert back.errors == 0, back
        assert back.all_moved is not None and back.all_moved - asked < UNDO_SECONDS, back
