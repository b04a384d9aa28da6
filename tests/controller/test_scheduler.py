"""The scheduler: per-Canary loops, wake-ups through the Deployment index, liveness and the sweep.

The loops run the real tick against the in-memory ports of `tests/controller/rollout/fakes.py`; no API
server is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from controller.api import CanaryRef, Phase
from controller.errors import NotFoundError
from controller.rollout import RolloutSettings
from controller.scheduler import CanaryLoops, LoopStop, Scheduler
from tests.controller.rollout.fakes import Harness, World, canary_body


class _Canaries:
    """The watch cache of Canaries, as raw bodies."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def items(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self._items if namespace in (None, i["metadata"].get("namespace"))]


class _Totals:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def set_total(self, namespace: str, count: int) -> None:
        self.totals[namespace] = count


class _ApiKnowing:
    """Reading a Canary from the API server: the names in `existing` exist, the others answer 404."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.gets: list[str] = []

    async def __call__(self, namespace: str, name: str) -> object:
        self.gets.append(f"{name}.{namespace}")
        if name not in self.existing:
            raise NotFoundError(f'canaries.flagger.app "{name}" not found')
        return {"metadata": {"name": name, "namespace": namespace}}


def _scheduler(
    canaries: list[dict[str, Any]],
    harness: Harness | None = None,
    api: _ApiKnowing | None = None,
    totals: _Totals | None = None,
) -> Scheduler:
    harness = harness or Harness(World(canary_body()))
    return Scheduler(
        harness.ports,
        RolloutSettings(min_analysis_interval=0.01),
        canaries=_Canaries(canaries),
        read_canary=api or _ApiKnowing(set()),
        totals=totals or _Totals(),
        control_loop_interval=3600,
    )


async def _until(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def _deployment(name: str, template: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"template": template}}


# --- the loops -----------------------------------------------------------------------------------


async def test_a_new_revision_of_the_target_wakes_an_idle_canary_at_once() -> None:
    world = World(canary_body())
    world.body["spec"]["analysis"]["interval"] = "1h"  # only a wake-up can bring the next tick
    harness = Harness(world)
    scheduler = _scheduler([world.body], harness)
    scheduler.loops.ensure(harness.ref)
    await _until(lambda: world.phase == Phase.INITIALIZED, "the first tick")
    await asyncio.sleep(0.05)
    writes = world.status_writes

    scheduler.on_deployment_change("MODIFIED", _deployment("podinfo", world.template))  # nothing new
    scheduler.on_deployment_change("MODIFIED", _deployment("other", {"new": True}))  # not watched
    world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    scheduler.on_deployment_change("MODIFIED", _deployment("podinfo", world.template, "elsewhere"))
    scheduler.on_deployment_change("DELETED", _deployment("podinfo", world.template))
    await asyncio.sleep(0.05)
    assert world.status_writes == writes  # none of those woke the loop

    scheduler.on_deployment_change("MODIFIED", _deployment("podinfo", world.template))
    await _until(lambda: world.phase == Phase.PROGRESSING, "the new revision to be detected")
    await scheduler.loops.stop_all()


async def test_a_tick_that_leaves_the_canary_finalising_is_followed_at_once() -> None:
    world = World(canary_body(iterations=1, threshold=1))
    world.body["spec"]["analysis"]["interval"] = "1h"
    harness = Harness(world)
    scheduler = _scheduler([world.body], harness)
    await harness.bootstrap()
    world.set_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    world.set_status(phase="Promoting")  # the primary is ready: Promoting, Finalising, Succeeded at once
    scheduler.loops.ensure(harness.ref)
    await _until(lambda: world.phase == Phase.SUCCEEDED, "the promotion to finish without waiting")
    await scheduler.loops.stop_all()


async def test_a_recreated_canarys_loop_starts_after_the_old_one_ended() -> None:
    timeline: list[str] = []

    async def run(ref: CanaryRef, stop: LoopStop) -> None:
        timeline.append(f"start {ref.uid}")
        await stop.wait()
        await asyncio.sleep(0.05)  # finishing a tick
        timeline.append(f"end {ref.uid}")

    loops = CanaryLoops(run, grace_seconds=5.0)
    loops.ensure(CanaryRef("podinfo", "test", uid="old"))
    loops.ensure(CanaryRef("podinfo", "test", uid="old"))  # MODIFIED: the same loop keeps running
    await asyncio.sleep(0.01)
    loops.ensure(CanaryRef("podinfo", "test", uid="new"))  # deleted and re-created under the same name
    loops.retire("podinfo.test", "old")  # the old object's late DELETED event changes nothing
    await asyncio.sleep(0.2)
    assert timeline == ["start old", "end old", "start new"]
    assert loops.running() == {"podinfo.test": "new"}
    await loops.stop_all()
    assert timeline[-1] == "end new" and loops.running() == {}


async def test_a_loop_that_ignores_its_stop_flag_is_cancelled_after_the_grace() -> None:
    cancelled = asyncio.Event()

    async def stubborn(ref: CanaryRef, stop: LoopStop) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loops = CanaryLoops(stubborn, grace_seconds=0.1)
    loops.ensure(CanaryRef("podinfo", "test", uid="u1"))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await asyncio.wait_for(loops.stop_all(), timeout=5)
    assert cancelled.is_set() and 0.1 <= time.monotonic() - started < 2


async def test_loop_stop_waits_with_a_timeout() -> None:
    stop = LoopStop()
    assert not stop and not stop.is_set()
    assert await stop.wait(0.01) is False
    asyncio.get_running_loop().call_later(0.01, stop.set)
    assert await stop.wait(5) is True and stop and stop.is_set()


# --- liveness and the sweep ----------------------------------------------------------------------


async def test_liveness_reports_canaries_without_a_loop_and_stalled_loops() -> None:
    old = {"metadata": {"name": "old", "namespace": "test", "creationTimestamp": "2020-01-01T00:00:00Z"}}
    fresh = {"metadata": {"name": "fresh", "namespace": "test", "creationTimestamp": "2999-01-01T00:00:00Z"}}
    going = {
        "metadata": {
            "name": "going",
            "namespace": "test",
            "creationTimestamp": "2020-01-01T00:00:00Z",
            "deletionTimestamp": "2020-01-02T00:00:00Z",
        }
    }
    world = World(canary_body(name="old", namespace="test"))
    world.body["spec"]["analysis"]["interval"] = "1h"
    harness = Harness(world)
    scheduler = _scheduler([old, fresh, going], harness)
    assert scheduler.canaries_without_loop() is None  # the operator has not run yet
    scheduler.operator_started()
    assert set(scheduler.loops.running()) == {"old.test", "fresh.test"}  # every cached Canary, not "going"
    assert scheduler.canaries_without_loop() is None  # nor for long enough
    await scheduler.operator_stopped()  # as if a loop had gone missing
    harness.clock.advance(121)
    assert scheduler.canaries_without_loop() == "canaries without a loop: old.test"
    scheduler.loops.ensure(harness.ref)
    await _until(lambda: world.phase == Phase.INITIALIZED, "the first tick")
    assert scheduler.canaries_without_loop() is None
    assert scheduler.stalled_loops() is None
    harness.clock.advance(3 * 3600 - 60)  # three intervals of one hour, less than the last tick's age
    assert scheduler.stalled_loops() is None
    harness.clock.advance(61)
    assert scheduler.stalled_loops() == "canary loops stalled: old.test"
    await scheduler.loops.stop_all()
    assert scheduler.stalled_loops() is None  # an ended loop is not watched


async def test_the_sweep_counts_canaries_and_retires_loops_of_canaries_deleted_unseen() -> None:
    """kopf replays no DELETED missed during a 410 relist: the sweep ends such loops after a 404."""
    listed = {"metadata": {"name": "listed", "namespace": "test", "uid": "u1"}, "spec": {}}
    api = _ApiKnowing({"listed", "brand.new"})
    totals = _Totals()
    scheduler = _scheduler([listed], api=api, totals=totals)
    for name, uid in (("listed", "u1"), ("brand.new", "u2"), ("vanished", "u3")):
        scheduler.loops.ensure(CanaryRef(name=name, namespace="test", uid=uid))
    await asyncio.sleep(0)

    await scheduler.sweep()
    assert totals.totals == {"test": 1}
    assert api.gets == ["brand.new.test", "vanished.test"]  # only what the cache lacks is checked
    assert sorted(scheduler.loops.running()) == ["brand.new.test", "listed.test"]
    await asyncio.wait_for(scheduler.loops.stop_all(), timeout=5)
    assert scheduler.loops.running() == {}


async def test_canary_watch_events_start_and_retire_loops_only_while_the_operator_runs() -> None:
    def body(name: str, uid: str, **meta: Any) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "test", "uid": uid, **meta}}

    world = World(canary_body(name="a", namespace="test"))
    world.body["spec"]["analysis"]["interval"] = "1h"
    scheduler = _scheduler([], Harness(world))
    scheduler.on_canary_event("ADDED", body("a", "u1"))
    assert scheduler.loops.running() == {}  # a follower (or not yet started) runs no loops
    scheduler.operator_started()
    scheduler.on_canary_event("ADDED", body("a", "u1"))
    scheduler.on_canary_event("MODIFIED", body("a", "u1"))  # a status write: same loop
    assert scheduler.loops.running() == {"a.test": "u1"}
    scheduler.on_canary_event("MODIFIED", body("a", "u1", deletionTimestamp="2026-01-01T00:00:00Z"))
    assert scheduler.loops.running() == {}  # deleting without Flagger's finalizer: retired at once
    scheduler.on_canary_event("ADDED", body("a", "u2"))  # re-created under the same name
    assert scheduler.loops.running() == {"a.test": "u2"}
    scheduler.on_canary_event("DELETED", body("a", "u1"))  # a late event of the old twin
    assert scheduler.loops.running() == {"a.test": "u2"}
    scheduler.on_canary_event("DELETED", body("a", "u2"))
    assert scheduler.loops.running() == {}
    scheduler.on_canary_event("ADDED", body("a", "u3"))
    await scheduler.operator_stopped()
    assert scheduler.loops.running() == {}
    scheduler.on_canary_event("ADDED", body("a", "u3"))
    assert scheduler.loops.running() == {}
