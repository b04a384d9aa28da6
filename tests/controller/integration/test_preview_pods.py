"""`flagman.app/preview-replica-count` with real pods and real traffic: the sandbox runtime runs podinfo as
local processes (`bench/cutover`'s sandbox, the real controller process), a client records the version of
every response through the apex Service. With the selector switch on, the promotion sends all traffic to
the canary pods, so they must be at full size and ready first: no request may fail."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.cutover.recorder import analyse
from bench.cutover.sandbox import NAMESPACE, NEW, OLD, CutoverSandbox, cutover_sandbox
from controller.api.bluegreen_options import SELECTOR_SWITCH_ANNOTATION
from controller.api.options import PREVIEW_REPLICAS_ANNOTATION
from controller.errors import FlagmanError
from controller.kube.api import DEPLOYMENTS
from tests.controller.integration.node import PODS

pytestmark = [pytest.mark.timeout(240)]

FULL, PREVIEW = 3, 1


async def sample_canary(sandbox: CutoverSandbox, seen: list[tuple[str, int, int, int]]) -> None:
    """(phase, spec.replicas, available replicas, running canary pods) of the canary, until cancelled."""
    while True:
        try:
            # The objects first: the phase read after them is never older than what they show.
            target = await sandbox.api.get(DEPLOYMENTS, NAMESPACE, "podinfo")
            pods = await sandbox.api.request("GET", PODS.path(NAMESPACE) + "?labelSelector=app%3Dpodinfo")
            running = sum(
                1
                for pod in pods.get("items") or []
                if (pod.get("status") or {}).get("phase") == "Running"
                and not (pod.get("metadata") or {}).get("deletionTimestamp")
            )
            spec, status = target.get("spec") or {}, target.get("status") or {}
            phase = await sandbox.phase()
            seen.append((phase, spec.get("replicas", 0), status.get("availableReplicas", 0), running))
        except FlagmanError:
            pass
        await asyncio.sleep(0.05)


async def test_the_canary_previews_with_one_pod_and_serves_at_full_size(tmp_path: Path) -> None:
    options = {PREVIEW_REPLICAS_ANNOTATION: str(PREVIEW), SELECTOR_SWITCH_ANNOTATION: "true"}
    async with cutover_sandbox(tmp_path, options, replicas=FULL) as sandbox:
        seen: list[tuple[str, int, int, int]] = []
        sampler = asyncio.create_task(sample_canary(sandbox, seen))
        try:
            samples = await sandbox.promote(NEW)
        finally:
            sampler.cancel()
        analysing = {(replicas, pods) for phase, replicas, _, pods in seen if phase == "Progressing"}
        promoting = [(replicas, available) for phase, replicas, available, _ in seen if phase == "Promoting"]
        primary = await sandbox.api.get(DEPLOYMENTS, NAMESPACE, "podinfo-primary")

    print(sorted(set(seen), key=seen.index))
    # During the analysis: one canary pod (two Running for a moment when the full size was asked).
    assert (PREVIEW, PREVIEW) in analysing, seen
    assert all(pods <= PREVIEW for replicas, pods in analysing if replicas == PREVIEW), seen
    # Promoting (the apex on the canary pods): all three of them, available.
    assert promoting and set(promoting) == {(FULL, FULL)}, seen
    assert primary["spec"]["replicas"] == FULL, "the primary keeps the full size"
    cutover = analyse(samples, NEW)
    assert cutover.versions == (OLD, NEW) and cutover.errors == 0 and not cutover.mixed, cutover
