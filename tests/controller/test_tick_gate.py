"""The tick gate: bounded ticks in flight, waiting ticks started earliest-due first (fair under overload)."""

from __future__ import annotations

import asyncio

import pytest

from controller.scheduler import TickGate, next_due


async def test_waiting_ticks_start_in_order_of_due_time_not_arrival() -> None:
    gate = TickGate(slots=1)
    started: list[str] = []
    release = asyncio.Event()

    async def tick(name: str, due: float) -> None:
        async with gate.slot(due):
            started.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(tick("holder", 0.0))
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(tick(name, due)) for name, due in (("late", 3.0), ("first", 1.0), ("mid", 2.0))
    ]
    await asyncio.sleep(0)
    assert gate.waiting == 3
    release.set()
    await asyncio.gather(holder, *waiters)
    assert started == ["holder", "first", "mid", "late"]


async def test_a_cancelled_waiter_gives_its_turn_to_the_next_and_slots_are_not_lost() -> None:
    gate = TickGate(slots=2)
    inside = 0
    most_inside = 0
    release = asyncio.Event()

    async def tick(due: float) -> None:
        nonlocal inside, most_inside
        async with gate.slot(due):
            inside += 1
            most_inside = max(most_inside, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(tick(float(due))) for due in range(5)]
    await asyncio.sleep(0)
    tasks[2].cancel()
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert most_inside == 2
    # every slot came back: two more ticks enter at once
    release.clear()
    more = [asyncio.create_task(tick(9.0)) for _ in range(2)]
    await asyncio.sleep(0)
    assert inside == 2
    release.set()
    await asyncio.gather(*more)


def test_a_gate_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        TickGate(slots=0)


def test_the_next_tick_keeps_the_cadence_of_due_times_not_of_starts() -> None:
    # a tick due at 10 s that waited 0.6 s for a slot: the next is still due at 11 s, not 11.6 s
    assert next_due(10.0, 1.0, now=10.9) == 11.0
    assert next_due(10.0, 10.0, now=10.6) == 20.0


def test_ticks_missed_by_more_than_an_interval_are_dropped_keeping_the_phase() -> None:
    # overloaded: 3.5 intervals late, so one tick runs at once (due 13 s) and the next is due at 14 s
    due = next_due(10.0, 1.0, now=13.5)
    assert due == 13.0
    assert next_due(due, 1.0, now=13.6) == 14.0
