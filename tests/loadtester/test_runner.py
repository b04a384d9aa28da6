"""The background runner (runner_test.go ported) and single-flight blocking tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from loadtester.metrics import LoadTesterMetrics
from loadtester.payload import Payload
from loadtester.process import Spawner
from loadtester.runner import TaskRunner
from loadtester.tasks import TaskContext, new_task
from tests.loadtester.conftest import LoadTester


def _runner(tick: float = 0.01) -> TaskRunner:
    context = TaskContext(timeout=3600, spawner=Spawner(), logger=logging.getLogger("test"))
    return TaskRunner(context, LoadTesterMetrics(), tick=tick)


def _payload(**metadata: str) -> Payload:
    return Payload(name="podinfo", namespace="default", metadata=metadata)


async def test_task_runner_start() -> None:
    """TestTaskRunner_Start: re-adds while running are skipped; the same key runs again after it ends."""
    runner = _runner()
    runner.start()
    try:
        first = new_task(_payload(type="cmd", cmd="sleep 0.6"))
        second = new_task(_payload(cmd="sleep 0.7", logCmdOutput="true"))
        runner.add(first)
        runner.add(second)
        await asyncio.sleep(0.1)
        runner.add(first)
        runner.add(second)
        await asyncio.sleep(0.1)
        runner.add(first)
        runner.add(second)
        await asyncio.sleep(0.05)
        assert runner.started_count == 2
        await asyncio.sleep(1.0)
        runner.add(first)
        runner.add(second)
        await asyncio.sleep(1.0)
        assert runner.started_count == 4
    finally:
        await runner.stop_scheduling()
        await runner.kill_all()


async def test_duplicates_within_a_tick_run_once() -> None:
    runner = _runner(tick=0.05)
    runner.start()
    try:
        for _ in range(5):
            runner.add(new_task(_payload(cmd="true")))
        await asyncio.sleep(0.2)
        assert runner.started_count == 1
    finally:
        await runner.stop_scheduling()
        await runner.kill_all()


async def test_distinct_canaries_with_the_same_command_run_in_parallel() -> None:
    runner = _runner()
    runner.start()
    try:
        runner.add(new_task(Payload(name="a", namespace="x", metadata={"cmd": "sleep 0.3"})))
        runner.add(new_task(Payload(name="b", namespace="x", metadata={"cmd": "sleep 0.3"})))
        await asyncio.sleep(0.1)
        assert len(runner.snapshot()["running"]) == 2
    finally:
        await runner.stop_scheduling()
        await runner.kill_all()


async def test_stopped_runner_never_starts_pending_tasks() -> None:
    runner = _runner(tick=10)
    runner.start()
    await runner.stop_scheduling()
    runner.add(new_task(_payload(cmd="true")))
    await asyncio.sleep(0.05)
    assert runner.started_count == 0


async def test_identical_blocking_requests_share_one_run(loadtester: LoadTester, tmp_path) -> None:  # type: ignore[no-untyped-def]
    counter = tmp_path / "runs"
    command = f"echo run >> {counter}; sleep 0.5; echo done"
    replies = await asyncio.gather(
        *(loadtester.task(type="bash", cmd=command, returnCmdOutput="true") for _ in range(4))
    )
    assert [(r.status, r.body) for r in replies] == [(200, b"done\n")] * 4
    assert counter.read_text() == "run\n"
    # Once it has finished, the same request runs again.
    await loadtester.task(type="bash", cmd=command)
    assert counter.read_text() == "run\nrun\n"


async def test_attached_requests_share_a_failure_too(loadtester: LoadTester) -> None:
    command = "sleep 0.3; exit 4"
    replies = await asyncio.gather(*(loadtester.task(type="bash", cmd=command) for _ in range(2)))
    assert {(r.status, r.text) for r in replies} == {(500, f"command {command} failed: : exit status 4")}


async def test_different_canaries_do_not_share_blocking_runs(loadtester: LoadTester, tmp_path) -> None:  # type: ignore[no-untyped-def]
    counter = tmp_path / "runs"
    command = f"echo run >> {counter}; sleep 0.3"
    metadata = {"type": "bash", "cmd": command}
    await asyncio.gather(
        loadtester.post("/", {"name": "a", "namespace": "test", "metadata": metadata}),
        loadtester.post("/", {"name": "b", "namespace": "test", "metadata": metadata}),
    )
    assert counter.read_text() == "run\nrun\n"


async def test_blocking_command_survives_a_client_that_gives_up(loadtester: LoadTester, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "finished"
    command = f"sleep 0.4; touch {marker}"
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(loadtester.task(type="bash", cmd=command), 0.1)
    await asyncio.sleep(0.6)
    assert marker.exists()
