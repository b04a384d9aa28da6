"""The poll loop the Concord and nGrinder tasks share."""

from __future__ import annotations

import time

from loadtester.tasks.polling import poll_until_done


async def test_polls_until_a_verdict() -> None:
    verdicts: list[str | None] = [None, None, "failed: no"]
    calls = 0

    async def check() -> str | None:
        nonlocal calls
        calls += 1
        return verdicts[calls - 1]

    assert await poll_until_done(check, interval=0.01) == "failed: no"
    assert calls == 3


async def test_gives_up_at_the_deadline_without_a_late_check() -> None:
    calls = 0

    async def never_done() -> str | None:
        nonlocal calls
        calls += 1
        return None

    started = time.monotonic()
    verdict = await poll_until_done(never_done, interval=0.04, give_up_after=0.1, give_up_message="timed out")
    assert verdict == "timed out"
    assert 0.09 <= time.monotonic() - started < 0.5
    assert calls == 2  # at 0.04 and 0.08 s; one at 0.12 s would come after the deadline
