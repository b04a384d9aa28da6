"""The controller's collector settings: start-up objects frozen, young collections far less frequent,
survivors of a full collection frozen, long pauses logged."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest

from controller.gcpolicy import YOUNG_THRESHOLD, PauseReporter, settle, tune_for_long_running


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks


def test_start_up_objects_are_frozen_and_collections_are_rarer(restored_gc: None) -> None:
    tune_for_long_running()
    tune_for_long_running()
    assert gc.get_freeze_count() > 1000, "modules, classes and settings leave the collections"
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700
    assert sum(isinstance(callback, PauseReporter) for callback in gc.callbacks) == 1


def test_survivors_of_a_full_collection_are_frozen_and_cycles_still_collected(restored_gc: None) -> None:
    tune_for_long_running()
    frozen = gc.get_freeze_count()

    class Node:
        other: object = None

    kept = [[index] for index in range(1000)]  # lists: always tracked by the collector
    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert gc.collect(1) >= 2, "young cycles are collected as before"
    assert gc.get_freeze_count() == frozen, "a partial collection freezes nothing"
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(kept), "what survived a full collection is frozen"


def test_collections_of_100ms_or_more_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    moments = iter([10.0, 10.02, 20.0, 20.25])
    reporter = PauseReporter(clock=lambda: next(moments))
    with caplog.at_level(logging.INFO, logger="controller"):
        reporter("start", {"generation": 0})
        reporter("stop", {"generation": 0, "collected": 3})
        reporter("start", {"generation": 1})
        reporter("stop", {"generation": 1, "collected": 5})
    assert [record.getMessage() for record in caplog.records] == [
        "garbage collection of generation 1 took 250 ms (5 objects freed)"
    ]


def test_settle_freezes_what_the_first_lists_made(restored_gc: None) -> None:
    listed = [[index] for index in range(500)]
    before = gc.get_freeze_count()
    settle()
    assert gc.get_freeze_count() >= before + len(listed)
