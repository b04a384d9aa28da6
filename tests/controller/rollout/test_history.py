"""Analysis history noted through the wrapped ports, tick by tick, saved through the store port."""

from __future__ import annotations

from typing import Any

from controller.api import Phase
from controller.api.canary import Metric, ThresholdRange
from controller.rollout.history import DEFAULT_SAVE_EVERY_SECONDS, metric_band
from controller.rollout.ports import AnalysisResult, Event
from tests.controller.rollout.fakes import World, canary_body
from tests.controller.rollout.history_fakes import HistoryHarness, MemoryHistoryStore

GOOD = AnalysisResult(passed=True, values={"request-success-rate": 99.5, "request-duration": 0.2})
SLOW = AnalysisResult(
    passed=False,
    events=(Event.warning("Halt podinfo.default advancement request duration 700ms > 500ms"),),
    values={"request-success-rate": 100.0, "request-duration": 0.7},
)
HOOKS = [
    {"name": "smoke-test", "type": "pre-rollout", "url": "http://flagger-loadtester.test/"},
    {"name": "load-test", "type": "rollout", "url": "http://flagger-loadtester.test/"},
    {"name": "notify", "type": "post-rollout", "url": "http://flagger-loadtester.test/"},
]


def _harness(
    store: MemoryHistoryStore | None = None, *, iterations: int = 3, **kwargs: Any
) -> HistoryHarness:
    world = World(canary_body(iterations=iterations, webhooks=HOOKS))
    return HistoryHarness(world, store or MemoryHistoryStore(), **kwargs)


async def _until(harness: HistoryHarness, phases: set[Phase], limit: int = 60, seconds: float = 30.0) -> None:
    for _ in range(limit):
        await harness.tick(seconds)
        if harness.world.phase in phases:
            return
    raise AssertionError(f"still {harness.world.phase} after {limit} ticks")


async def test_a_successful_run_records_values_bands_hooks_phases_and_outcome() -> None:
    harness = _harness()
    slow_hook = harness.clock

    def load_test(webhook: Any, phase: Phase) -> bool:
        slow_hook.advance(0.25)  # the hook takes a quarter of a second
        return True

    harness.world.hook_answers["load-test"] = load_test
    harness.world.results = [GOOD, SLOW, GOOD, GOOD, GOOD]
    await harness.bootstrap()
    assert harness.store.saves == 0, "no run, nothing to save"
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await _until(harness, {Phase.SUCCEEDED})

    document = harness.store.document()
    assert document["version"] == 1
    assert document["canary"] == {"name": "podinfo", "namespace": "default", "uid": "uid-podinfo"}
    [run] = document["runs"]
    assert run["number"] == 1
    assert run["outcome"] == "Succeeded"
    assert run["revision"] == harness.world.status.last_applied_spec
    assert [item["phase"] for item in run["phases"]] == [
        "Progressing",
        "Promoting",
        "Finalising",
        "Succeeded",
    ]
    assert run["started"] == run["phases"][0]["at"] and run["ended"] == run["phases"][-1]["at"]

    duration = run["metrics"]["request-duration"]
    assert (duration["unit"], duration["min"], duration["max"]) == ("ms", None, 500)
    assert [point["value"] for point in duration["points"]] == [200, 700, 200, 200, 200]
    assert [point["passed"] for point in duration["points"]] == [True, False, True, True, True]
    assert [point["iteration"] for point in duration["points"]] == [1, 2, 2, 3, 4]
    assert [point["failedChecks"] for point in duration["points"]] == [0, 0, 1, 1, 1]
    rate = run["metrics"]["request-success-rate"]
    assert (rate["unit"], rate["min"], rate["max"]) == ("%", 99, None)
    assert [check["passed"] for check in run["checks"]] == [True, False, True, True, True]

    calls = [(call["name"], call["type"], call["phase"], call["passed"]) for call in run["webhooks"]]
    assert calls[0] == ("smoke-test", "pre-rollout", "Progressing", True)
    assert calls.count(("load-test", "rollout", "Progressing", True)) == 5
    assert calls[-1] == ("notify", "post-rollout", "Succeeded", True), "post-rollout hooks belong to the run"
    assert {call["durationSeconds"] for call in run["webhooks"] if call["name"] == "load-test"} == {0.25}

    messages = [event["message"] for event in run["events"]]
    assert messages[0] == "Starting canary analysis for podinfo.default"
    assert "Halt podinfo.default advancement request duration 700ms > 500ms" in messages
    assert messages[-1] == "Promotion completed! Scaling down podinfo.default"


async def test_saves_only_after_ticks_that_changed_the_history() -> None:
    harness = _harness()
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    ticks = 0
    while harness.world.phase != Phase.SUCCEEDED:
        await harness.tick(seconds=DEFAULT_SAVE_EVERY_SECONDS)
        ticks += 1
    assert harness.store.saves == ticks, "one save per analysis tick at most"
    await harness.ticks(5)
    assert harness.store.saves == ticks, "an idle Succeeded canary costs no writes"
    assert harness.store.loads == 1, "loaded once, then kept in memory"


async def test_at_short_intervals_points_are_saved_every_60s_and_phase_changes_at_once() -> None:
    harness = _harness(iterations=80)
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.tick(seconds=1)
    assert harness.store.document()["runs"][0]["phases"] == [
        {"phase": "Progressing", "at": harness.book.document("default", "podinfo")["runs"][0]["started"]}
    ], "a run that opens is saved at once"
    saves = harness.store.saves
    for _ in range(55):
        await harness.tick(seconds=1)
    assert harness.store.saves == saves, "no save for ticks that only added points within 60s"
    checks = harness.book.document("default", "podinfo")["runs"][0]["checks"]
    assert len(checks) == 54 and "checks" not in harness.store.document()["runs"][0], "served current"
    for _ in range(10):
        await harness.tick(seconds=1)
    assert harness.store.saves == saves + 1, "points are saved once 60s passed"
    await _until(harness, {Phase.SUCCEEDED}, limit=100, seconds=1)
    assert harness.store.document()["runs"][0]["outcome"] == "Succeeded", "the end is saved at once"
    await harness.tick(seconds=1)
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.2")
    await harness.tick(seconds=1)
    await harness.tick(seconds=1)  # a point, not saved yet
    unsaved = harness.book.document("default", "podinfo")
    assert harness.store.document() != unsaved
    await harness.book.flush_all()
    assert harness.store.document() == unsaved, "shutdown saves what was left"


async def test_failed_run_and_only_the_last_k_runs_are_kept() -> None:
    harness = _harness(runs_kept=2)
    harness.world.default_result = SLOW
    await harness.bootstrap()
    for image in ("6.0.1", "6.0.2", "6.0.3"):
        harness.world.set_image(f"ghcr.io/stefanprodan/podinfo:{image}")
        await _until(harness, {Phase.FAILED})
    runs = harness.store.document()["runs"]
    assert [run["number"] for run in runs] == [2, 3]
    assert {run["outcome"] for run in runs} == {"Failed"}
    points = runs[-1]["metrics"]["request-duration"]["points"]
    assert len(points) == 2 and not any(point["passed"] for point in points)
    messages = [event["message"] for event in runs[-1]["events"]]
    assert messages[-2:] == [
        "Canary failed! Scaling down podinfo.default",
        "Post-rollout check notify passed",
    ]


async def test_a_new_revision_during_the_analysis_supersedes_the_run() -> None:
    harness = _harness()
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.ticks(3)
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.2")
    await harness.tick()
    first, second = harness.store.document()["runs"]
    assert first["outcome"] == "Superseded" and first["ended"]
    assert second["outcome"] is None and second["revision"] == harness.world.status.last_applied_spec
    assert second["phases"] == [{"phase": "Progressing", "at": first["ended"]}]


async def test_a_restarted_controller_continues_the_saved_run() -> None:
    store = MemoryHistoryStore()
    harness = _harness(store)
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.ticks(3)
    restarted = HistoryHarness(harness.world, store)  # a new book: the controller restarted
    restarted.clock.moment = harness.clock.moment
    await _until(restarted, {Phase.SUCCEEDED})
    [run] = store.document()["runs"]
    assert run["outcome"] == "Succeeded"
    assert [item["phase"] for item in run["phases"]] == [
        "Progressing",
        "Promoting",
        "Finalising",
        "Succeeded",
    ]
    assert len(run["checks"]) == 4, "checks before and after the restart"


async def test_an_unreadable_store_records_nothing_rather_than_overwrite() -> None:
    store = MemoryHistoryStore()
    harness = _harness(store)
    store.fail = "configmaps is forbidden"
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.ticks(3)
    assert harness.world.phase == Phase.PROGRESSING, "history problems never stop the analysis"
    assert store.saves == 0 and harness.book.document("default", "podinfo") is None
    store.fail = ""
    await _until(harness, {Phase.SUCCEEDED})
    assert store.document()["runs"][0]["outcome"] == "Succeeded"


async def test_a_recreated_canary_does_not_inherit_the_old_history() -> None:
    store = MemoryHistoryStore()
    store.saved["podinfo.default"] = (
        '{"version": 1, "canary": {"name": "podinfo", "namespace": "default", "uid": "old"},'
        ' "runs": [{"number": 7, "outcome": "Failed", "phases": [{"phase": "Failed", "at": "x"}]}]}'
    )
    harness = _harness(store)
    await harness.bootstrap()
    harness.world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await harness.tick()
    assert [run["number"] for run in store.document()["runs"]] == [1]


def test_metric_band_follows_the_analysis_rules() -> None:
    assert metric_band(Metric("request-success-rate", threshold=99)) == (99, None, "%")
    assert metric_band(Metric("request-duration", threshold=500)) == (None, 500, "ms")
    assert metric_band(Metric("errors", threshold=5)) == (None, 5, "")
    ranged = Metric("request-success-rate", threshold=1, threshold_range=ThresholdRange(min=90, max=99))
    assert metric_band(ranged) == (90, 99, "%")
    assert metric_band(Metric("errors")) == (None, None, "")
