"""Finished tasks keep only what GET /tasks shows, so the memory they hold is bounded."""

from __future__ import annotations

import gc
import logging
import tracemalloc

from loadtester.app import RUNNER
from loadtester.history import OUTPUT_TAIL_BYTES, TaskHistory, shorten
from loadtester.payload import Payload
from loadtester.tasks import TaskResult, new_task
from tests.loadtester.conftest import LoadTester

MIB = 1024 * 1024


def test_short_text_is_kept_as_it_is() -> None:
    assert (
        shorten("hey -z 1m http://podinfo-canary.test:9898/") == "hey -z 1m http://podinfo-canary.test:9898/"
    )
    assert shorten("é" * 1024) == "é" * 1024


def test_long_text_keeps_its_start_a_marker_and_stays_distinct() -> None:
    first, second = shorten("x" * 10_000 + "a"), shorten("x" * 10_000 + "b")
    assert first.startswith("x" * 4096 + "... [5905 more characters, blake2b ")
    assert first != second
    assert len(first) < 4200
    # Wide characters take 4 bytes each in a Python string: fewer of them are kept.
    assert shorten("😀" * 5000).startswith("😀" * 1024 + "... [3976 more characters")


def test_history_keeps_the_last_results_of_the_most_recent_keys() -> None:
    history = TaskHistory(limit=3)
    for number in [1, 2, 3, 1, 4]:
        task = new_task(Payload(name="app", namespace="ns", metadata={"cmd": f"run {number}"}))
        history.record(task, TaskResult(ok=True, output=b"x" * MIB), finished_at=float(number))
    assert [finished.command for finished in history] == ["run 3", "run 1", "run 4"]
    assert all(finished.output_tail == b"x" * OUTPUT_TAIL_BYTES for finished in history)


async def test_chatty_tasks_with_long_commands_retain_a_few_kib_each(loadtester: LoadTester) -> None:
    """Before the fix each of these tasks kept its 1 MiB output and a 0.1-0.6 MB command twice over."""
    quiet = logging.getLogger("loadtester")  # log records must not hold the outputs (pytest keeps them)
    quiet.propagate = False
    quiet.handlers[:] = [logging.NullHandler()]

    async def chatty(number: int, command: str) -> None:
        metadata = {"type": "bash", "cmd": command}
        await loadtester.post("/", {"name": f"chatty-{number}", "namespace": "test", "metadata": metadata})

    long_comment = "y" * 100_000
    runnable = f"head -c {MIB} /dev/zero | tr '\\0' x; : {long_comment}"
    unstartable = "z" * 600_000  # longer than Linux allows one argument: exec fails, the task is still kept
    tracemalloc.start()
    try:
        await chatty(-1, runnable)  # warm-up: lazily created metrics, connections, buffers
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for number in range(40):
            await chatty(number, runnable if number % 4 else unstartable + str(number))
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    results = loadtester.app[RUNNER].snapshot()["results"]
    assert len(results) == 41
    assert sum(len(result["output_tail"]) == OUTPUT_TAIL_BYTES for result in results.values()) == 31
    assert retained < 40 * 16 * 1024, f"{retained / 40:.0f} bytes retained per finished task"
