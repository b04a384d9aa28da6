"""The Blue/Green cut-over options measured with real traffic, on both backends: real podinfo pods (the
sandbox runtime on the emulator; the node agent on the real control plane, with the real EndpointSlice
controller), the real controller process, and a client that records the version of every response
(``bench/cutover``). The figures, and the same promotion without the switch, are re-measured by
``.venv/bin/python -m bench.cutover`` (docs/release-control.md has the numbers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.cutover.recorder import analyse
from bench.cutover.sandbox import NEW, OLD, CutoverSandbox, cutover_sandbox, real_cutover_sandbox
from controller.api.bluegreen_options import SCALE_DOWN_DELAY_ANNOTATION, SELECTOR_SWITCH_ANNOTATION
from tests.realbackend import node_binaries_or_skip

pytestmark = [pytest.mark.timeout(300)]

UNDO_SECONDS = 1.0  # from the request written to every new request served by the previous version
OPTIONS = {SELECTOR_SWITCH_ANNOTATION: "true", SCALE_DOWN_DELAY_ANNOTATION: "300"}


@contextlib.asynccontextmanager
async def sandbox_on(backend: str, workdir: Path) -> AsyncIterator[CutoverSandbox]:
    if backend == "emulator":
        async with cutover_sandbox(workdir, OPTIONS) as sandbox:
            yield sandbox
        return
    binaries = node_binaries_or_skip()
    async with real_cutover_sandbox(workdir, OPTIONS, binaries=binaries) as sandbox:
        yield sandbox


async def test_selector_switch_serves_no_request_from_a_mixed_set_and_undo_moves_traffic_at_once(
    backend: str, tmp_path: Path
) -> None:
    """`backend` is the integration conftest's: this test runs on the emulator and the real control plane."""
    async with sandbox_on(backend, tmp_path) as sandbox:
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
