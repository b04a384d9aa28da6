"""Runs tasks: the background queue for `cmd`/`ngrinder`, single-flight for blocking types, history.

Queued tasks follow Flagger's runner: `add` stores the task as pending (overwriting the same key, so
requests within one tick collapse), and each tick starts every pending task whose key is not running;
one that is running is skipped and logged. Blocking tasks run at once; an identical request (same
canary, type and command) that arrives while one runs attaches to it and gets its result (Flagger starts
a second copy). Commands are not bound to the HTTP request: a client that gives up does not stop them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from goconv.zap import iso8601
from loadtester.history import MAX_REMEMBERED_RESULTS, TaskHistory, shorten
from loadtester.metrics import LoadTesterMetrics, TypeMetrics
from loadtester.tasks import Task, TaskContext, TaskResult

# Flagger names the binary in its log lines for these types (and says helmv3 for both helm types).
_LOG_LABELS = {"helm": "helmv3", "helmv3": "helmv3", "kubectl": "kubectl"}


@dataclasses.dataclass
class _Running:
    task: Task
    started_at: float  # wall clock, for /tasks
    future: asyncio.Future[TaskResult]


class TaskRunner:
    def __init__(
        self,
        context: TaskContext,
        metrics: LoadTesterMetrics,
        *,
        tick: float = 0.1,
        remembered_results: int = MAX_REMEMBERED_RESULTS,
    ) -> None:
        self._context = context
        self._metrics = metrics
        self._tick = tick
        self._log = context.logger
        self._pending: dict[str, Task] = {}
        self._running: dict[str, _Running] = {}
        self._history = TaskHistory(remembered_results)
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._accepting = True
        self.started_count = 0  # Flagger's internal exec counter, for tests

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._schedule_forever(), name="loadtester-runner")

    async def stop_scheduling(self) -> None:
        """Pending tasks are never started after this (Flagger: `shutting down the task runner`)."""
        self._accepting = False
        self._pending.clear()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    def kill_process_groups(self) -> int:
        """SIGKILL every running command's process group, synchronously (for an immediate exit)."""
        return self._context.spawner.kill_all()

    async def kill_all(self) -> int:
        """Kill every running command's process group and wait for the tasks to wind up."""
        killed = self._context.spawner.kill_all()
        futures = [entry.future for entry in self._running.values()]
        for future in futures:
            future.cancel()
        await asyncio.gather(*futures, return_exceptions=True)
        await self._context.close()
        return killed

    # -- queued ------------------------------------------------------------------------------------

    def add(self, task: Task) -> None:
        if not self._accepting:
            return
        self._pending[task.key] = task
        self._wakeup.set()

    async def _schedule_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            pending, self._pending = self._pending, {}
            for key, task in pending.items():
                if key in self._running:
                    self._metrics.tasks_skipped.labels(task.type).inc()
                    self._log.info("command skipped %s is already running", task, extra=_fields(task))
                    continue
                self._launch(task)
            await asyncio.sleep(self._tick)

    # -- blocking ----------------------------------------------------------------------------------

    async def run_blocking(self, task: Task) -> TaskResult:
        entry = self._running.get(task.key)
        if entry is not None:
            self._metrics.tasks_skipped.labels(task.type).inc()
            # Deferred like the other lines of a blocking request, so it follows its "bash command" line.
            asyncio.get_running_loop().call_soon(self._log_attach, task)
            # shield: one waiter going away must not cancel the run the others wait for.
            return await asyncio.shield(entry.future)
        # The first caller runs the task inline (no extra task to schedule on this hot path); aiohttp
        # does not cancel a handler whose client disconnects, so the command still runs to its end.
        shared: asyncio.Future[TaskResult] = asyncio.get_running_loop().create_future()
        self.started_count += 1
        self._running[task.key] = _Running(task, time.time(), shared)
        try:
            result = await self._execute(task)
        except BaseException:
            shared.cancel()
            raise
        if not shared.done():  # kill_all() may have cancelled it during shutdown
            shared.set_result(result)
        return result

    def _log_attach(self, task: Task) -> None:
        self._log.info("attaching to the running %s", task, extra=_fields(task))

    # -- shared ------------------------------------------------------------------------------------

    def _launch(self, task: Task) -> None:
        self.started_count += 1
        future = asyncio.create_task(self._execute(task), name=f"task {task.key}")
        self._running[task.key] = _Running(task, time.time(), future)

    async def _execute(self, task: Task) -> TaskResult:
        metrics = self._metrics.for_type(task.type)
        metrics.started.inc()
        metrics.running.inc()
        if task.mode == "queued":  # blocking types already logged "bash command ..." (as Flagger)
            self._log.info("task starting %s", task, extra=_fields(task))
        result = TaskResult(ok=False, error="cancelled")
        report = False  # stays False when cancelled (shutdown): counted, but no "command finished" line
        try:
            result = await task.run(self._context)
            report = True
        except Exception as error:  # a task bug must not kill the runner; report it as a failure
            asyncio.get_running_loop().call_soon(self._log_crash, task, error)
            result = TaskResult(ok=False, error=f"internal error: {error}")
            report = True
        finally:
            self._running.pop(task.key, None)
            self._history.record(task, result, time.time())
            # Metrics and the log line go to the next event-loop pass: a blocking request's answer is
            # written first (nothing between here and the write suspends). Every request handled after
            # that answer still sees them, and call_soon is FIFO, so the lines keep their order.
            asyncio.get_running_loop().call_soon(self._after_run, task, result, metrics, report)
        return result

    def _log_crash(self, task: Task, error: Exception) -> None:
        self._log.error("task %s crashed", task, exc_info=error, extra=_fields(task))

    def _after_run(self, task: Task, result: TaskResult, metrics: TypeMetrics, report: bool) -> None:
        metrics.running.dec()
        metrics.observe_finished(result.outcome, result.duration)
        if report:
            self._report(task, result)

    def _report(self, task: Task, result: TaskResult) -> None:
        """Flagger's messages; the output goes in an `output` field rather than glued onto `msg`."""
        fields = _fields(task)
        label = f"{_LOG_LABELS[task.type]} {task.command}" if task.type in _LOG_LABELS else task.command
        text = result.output.decode(errors="replace")
        if result.ok:
            if task.log_output and text:
                fields["output"] = text
            self._log.info("command finished %s", label, extra=fields)
        else:
            fields["output"] = text
            self._log.error("command failed %s %s", label, result.error, extra=fields)

    # -- introspection (GET /tasks) ----------------------------------------------------------------

    def is_running(self, key: str) -> bool:
        return key in self._running

    def snapshot(self) -> dict[str, Any]:
        return {
            "pending": [_describe(task) for task in self._pending.values()],
            "running": [
                {**_describe(entry.task), "started_at": iso8601(entry.started_at)}
                for entry in self._running.values()
            ],
            "results": {
                last.key: {
                    "key": last.key,
                    "type": last.type,
                    "mode": last.mode,
                    "canary": last.canary,
                    "command": last.command,
                    "ok": last.ok,
                    "exit_code": last.exit_code,
                    "error": last.error,
                    "duration_seconds": round(last.duration, 6),
                    "output_tail": last.output_tail.decode(errors="replace"),
                    "finished_at": iso8601(last.finished_at),
                }
                for last in self._history
            },
        }


def _fields(task: Task) -> dict[str, Any]:
    return {"canary": task.canary, "task_type": task.type}


def _describe(task: Task) -> dict[str, Any]:
    """A pending or running task as /tasks shows it: long parts shortened as in the results."""
    canary, command = shorten(task.canary), shorten(task.command)
    return {
        "key": f"{task.type}:{canary}:{command}",
        "type": task.type,
        "mode": task.mode,
        "canary": canary,
        "command": command,
    }
