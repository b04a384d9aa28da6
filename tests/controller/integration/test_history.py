"""The analysis history, end to end: the real controller process records a rollout in the ConfigMap."""

from __future__ import annotations

import contextlib
import json

import pytest

from controller.errors import NotFoundError
from controller.kube.api import CONFIGMAPS
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import apply_canary, deploy_podinfo, set_image
from tests.controller.kube.support import eventually


async def _rollout(bench: Bench) -> dict[str, object]:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Succeeded")

    async def finished() -> dict[str, object] | None:  # saved after the tick that wrote Succeeded
        with contextlib.suppress(NotFoundError):
            stored = await bench.api.get(CONFIGMAPS, bench.ns, "flagman-history-podinfo")
            document: dict[str, object] = json.loads(stored["data"]["history.json"])
            runs = document.get("runs") or []
            if runs and runs[-1].get("outcome"):  # type: ignore[index,union-attr]
                return document
        return None

    return await eventually(finished, what="the run's outcome in the history ConfigMap")


async def test_a_rollout_is_recorded_in_the_history_configmap(bench: Bench) -> None:
    document = await _rollout(bench)
    [run] = document["runs"]  # type: ignore[misc]
    assert run["outcome"] == "Succeeded"
    assert [p["phase"] for p in run["phases"]] == ["Progressing", "Promoting", "Finalising", "Succeeded"]
    points = run["metrics"]["request-success-rate"]["points"]
    assert [p["iteration"] for p in points] == list(range(1, 12)), "one check per iteration, N+1 checks"
    assert all(p["passed"] for p in points)
    assert run["metrics"]["request-success-rate"]["min"] == 99
    assert {(w["name"], w["passed"]) for w in run["webhooks"]} >= {("smoke-test", True), ("load-test", True)}
    assert any(e["message"].startswith("Promotion completed!") for e in run["events"])


@pytest.mark.emulator_only
async def test_history_costs_at_most_one_write_per_status_writing_tick(bench: Bench) -> None:
    await _rollout(bench)
    controller = [r for r in bench.server.request_log if r.user_agent.startswith("flagman-controller/")]
    history_writes = [
        r for r in controller if "/configmaps/flagman-history-" in r.path and r.method == "PATCH"
    ]
    status_writes = [
        r for r in controller if r.path.endswith("/canaries/podinfo/status") and r.method != "GET"
    ]
    history_reads = [r for r in controller if "/configmaps/flagman-history-" in r.path and r.method == "GET"]
    assert len(history_reads) <= 1, "read once per Canary and controller start, not every tick"
    assert 0 < len(history_writes) <= len(status_writes), (len(history_writes), len(status_writes))
    print(f"status writes {len(status_writes)}, history writes {len(history_writes)}")
