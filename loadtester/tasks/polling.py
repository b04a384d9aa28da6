"""Poll a remote job until it ends: the loop the Concord and nGrinder tasks share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# A check's verdict: None while the job runs, "" when it succeeded, else why it failed.
Check = Callable[[], Awaitable[str | None]]


async def poll_until_done(
    check: Check, *, interval: float, give_up_after: float | None = None, give_up_message: str = ""
) -> str:
    """Call `check` every `interval` seconds (the first time after one interval) until it gives a verdict.

    With `give_up_after` (seconds), give up with `give_up_message` at that deadline, skipping a check
    that would come after it. Without, the caller bounds the wait (the task's own deadline).
    """
    deadline = None if give_up_after is None else time.monotonic() + give_up_after
    while True:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining < interval:
                await asyncio.sleep(max(remaining, 0))
                return give_up_message
        await asyncio.sleep(interval)
        verdict = await check()
        if verdict is not None:
            return verdict
