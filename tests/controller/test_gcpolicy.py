"""The controller's collector settings: start-up objects frozen, young collections far less frequent."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from controller.gcpolicy import YOUNG_THRESHOLD, tune_for_long_running


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_and_collections_are_rarer(restored_gc: None) -> None:
    tune_for_long_running()
    assert gc.get_freeze_count() > 1000, "modules, classes and settings leave the collections"
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700


def test_cycles_made_after_the_start_are_still_collected(restored_gc: None) -> None:
    tune_for_long_running()

    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert gc.collect() >= 2
