"""The cyclic garbage collector's settings for a long-running controller.

With a thousand Canaries the watch caches hold about a million objects, and every watch event replaces
some of them: Python's default thresholds (700, 10, 10) then run a full collection, which walks the whole
heap, every few seconds — a fifth of a steady tick's CPU in a py-spy profile at 200 Canaries. Nearly all
of that heap is plain JSON (dicts, lists, strings) that reference counting frees on its own; cycles are
rare (asyncio tasks and exceptions). So: objects that exist once the controller has started (modules,
classes, settings) are frozen out of every collection, and the young generation is collected far less
often, so short-lived objects die by reference counting before a collection can promote them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (default 700)
MIDDLE_THRESHOLD = 20  # young collections per middle one (default 10)
OLD_THRESHOLD = 10  # middle collections per full one (the default), on top of CPython's 25 %-of-heap rule


def tune_for_long_running() -> None:
    """Freeze what exists now and collect less often (call once, after the heavy imports)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
