"""The recording client's verdicts (``bench/cutover/recorder.py``) on hand-made samples."""

from __future__ import annotations

from bench.cutover.recorder import ERROR, Sample, analyse


def samples(*versions: str) -> list[Sample]:
    return [Sample(started=float(i), ended=i + 0.5, version=v) for i, v in enumerate(versions)]


def test_a_clean_cutover_changes_once() -> None:
    cutover = analyse(samples("1", "1", ERROR, "2", "2"), "2")
    assert (cutover.versions, cutover.changes, cutover.stale, cutover.errors) == (("1", "2"), 1, 0, 1)
    assert not cutover.mixed and cutover.all_moved == 3.0 and cutover.first_new == 3.5


def test_an_in_place_rolling_update_is_mixed() -> None:
    cutover = analyse(samples("1", "2", "1", "2", "1", "2"), "2")
    assert cutover.mixed and cutover.stale == 2 and cutover.changes == 5
    assert cutover.all_moved == 5.0


def test_a_request_in_flight_at_the_switch_is_not_stale() -> None:
    # Started before the first new answer ended: routed before the switch.
    cutover = analyse([Sample(0.0, 2.0, "1"), Sample(0.5, 1.0, "2"), Sample(1.5, 1.8, "2")], "2")
    assert not cutover.mixed
