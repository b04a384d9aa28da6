"""The scheduler's side of sharding: loops only for the Canaries this replica owns, and a shard's loops
stopped (within a grace, then cancelled) when it is given up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from controller.api import CanaryRef
from controller.rollout import RolloutSettings
from controller.scheduler import CanaryLoops, LoopStop, Scheduler
from tests.controller.rollout.fakes import Harness, World, canary_body


class _Canaries:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def items(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._items


class _Totals:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def set_total(self, namespace: str, count: int) -> None:
        self.totals[namespace] = count


async def _never(namespace: str, name: str) -> object:
    return {}


def body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "test", "uid": f"uid-{name}"}, "spec": {}}


async def test_only_owned_canaries_get_loops_and_are_counted() -> None:
    world = World(canary_body(name="a", namespace="test"))
    world.body["spec"]["analysis"]["interval"] = "1h"
    totals = _Totals()
    scheduler = Scheduler(
        Harness(world).ports,
        RolloutSettings(min_analysis_interval=0.01),
        canaries=_Canaries([body("a"), body("b"), body("c")]),
        read_canary=_never,
        totals=totals,
        control_loop_interval=3600,
    )
    owned = {"a", "c"}
    scheduler.owns = lambda namespace, name: name in owned
    scheduler.operator_started()
    assert sorted(scheduler.loops.running()) == ["a.test", "c.test"]
    scheduler.on_canary_event("MODIFIED", body("b"))
    assert "b.test" not in scheduler.loops.running()
    await scheduler.sweep()
    assert totals.totals == {"test": 2}  # summed over the replicas: every Canary once

    owned.discard("c")
    await asyncio.wait_for(scheduler.stop_loops_where(lambda namespace, name: name == "c", 1.0), 5)
    assert sorted(scheduler.loops.running()) == ["a.test"]
    owned.add("b")
    scheduler.ensure_loops()  # a shard taken over
    assert sorted(scheduler.loops.running()) == ["a.test", "b.test"]
    await scheduler.operator_stopped()


async def test_stopping_a_shards_loops_waits_for_them_and_cancels_after_the_grace() -> None:
    ended: list[str] = []

    async def run(ref: CanaryRef, stop: LoopStop) -> None:
        try:
            if ref.name == "stubborn":
                await asyncio.sleep(3600)
            await stop.wait()
            await asyncio.sleep(0.05)  # finishing a tick
        finally:
            ended.append(ref.name)

    loops = CanaryLoops(run, grace_seconds=30.0)
    for name in ("polite", "stubborn", "other"):
        loops.ensure(CanaryRef(name, "test", uid=name))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await loops.stop_where(lambda ref: ref.name in ("polite", "stubborn"), 0.2)
    assert sorted(ended) == ["polite", "stubborn"]
    assert 0.2 <= time.monotonic() - started < 2  # the grace given, not the loops' default 30s
    assert list(loops.running()) == ["other.test"]
    await loops.stop_all()


async def test_a_loop_skips_its_ticks_while_the_shard_is_not_owned() -> None:
    """The coordinator stops a lost shard's loops, but a replica paused past its renew deadline must not
    tick even once before that: `owns` is asked before every tick."""
    world = World(canary_body(name="a", namespace="test"))
    world.body["spec"]["analysis"]["interval"] = "20ms"
    ticked: list[float] = []

    async def after_tick(ref: CanaryRef) -> None:
        ticked.append(time.monotonic())

    scheduler = Scheduler(
        Harness(world).ports,
        RolloutSettings(min_analysis_interval=0.01),
        canaries=_Canaries([world.body]),
        read_canary=_never,
        totals=_Totals(),
        control_loop_interval=3600,
        after_tick=after_tick,
    )
    owned = True
    scheduler.owns = lambda namespace, name: owned
    scheduler.operator_started()
    for _ in range(200):
        if ticked:
            break
        await asyncio.sleep(0.01)
    assert ticked, "the owned canary never ticked"
    owned = False
    await asyncio.sleep(0.1)  # the loop keeps running (its shard is not yet given up) ...
    count = len(ticked)
    await asyncio.sleep(0.3)
    assert len(ticked) == count  # ... but ticks no more
    assert "a.test" in scheduler.loops.running()
    await scheduler.operator_stopped()
