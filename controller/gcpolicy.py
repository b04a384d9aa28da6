"""The cyclic garbage collector's settings for a long-running controller.

With a thousand Canaries the watch caches hold a million objects or more, and every watch event
replaces some of them. Python's defaults (700, 10, 10) ran a collection so often that it took ~18 % of a
steady tick's CPU (py-spy, 200 Canaries at 1 s), and each full collection walked the whole heap: 1.3 s
during which no Canary ticked (1,000 Canaries, load average 6), the p99 of tick lateness. Nearly all of
that heap is plain JSON that reference counting frees on its own; cycles are rare. So:

* what exists once the controller has started (modules, classes, settings) is frozen out of every
  collection, and the young generation is collected after 50,000 allocations instead of 700, so
  short-lived objects die by reference counting before a collection can promote them;
* after each full collection, whatever survived it is frozen too: it was live a moment ago, and the next
  full collection walks only what was promoted since, so a pause follows the recent churn rather than the
  size of the caches. The price: a structure that becomes cyclic garbage after being frozen is never
  freed; long-lived cycles are rare here (a deleted Canary's loop, a closed connection).
* collections that still stall the loop for 100 ms or more are logged.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

logger = logging.getLogger("controller")

YOUNG_THRESHOLD = 50_000  # allocations between young collections (default 700)
MIDDLE_THRESHOLD = 20  # young collections per middle one (default 10)
OLD_THRESHOLD = 10  # middle collections per full one (the default), on top of CPython's 25 %-of-heap rule


def tune_for_long_running() -> None:
    """Freeze what exists now and collect less often (call once, after the heavy imports)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    if not any(isinstance(callback, PauseReporter) for callback in gc.callbacks):
        gc.callbacks.append(PauseReporter())


def settle() -> None:
    """Collect and freeze what exists now: called once the watch caches hold their first lists, so the
    first full collection of the steady state does not walk them (0.7 s at 1,000 Canaries)."""
    gc.collect()
    gc.freeze()


SLOW_COLLECTION_SECONDS = 0.1
OLDEST = 2


class PauseReporter:
    """A `gc.callbacks` entry: freezes what survived a full collection, and logs collections that stalled
    the event loop (every tick waits for them) for 100 ms or more."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        if info.get("generation") == OLDEST:
            gc.freeze()  # what survived a full collection is live: the next one need not walk it again
        seconds = self._clock() - self._started
        if seconds >= SLOW_COLLECTION_SECONDS:
            logger.info(
                "garbage collection of generation %d took %.0f ms (%d objects freed)",
                info.get("generation", -1),
                1000 * seconds,
                info.get("collected", 0),
            )
