"""Tasks that run a local program and are judged by its exit status (cmd, bash, helm, kubectl)."""

from __future__ import annotations

import dataclasses

from loadtester.tasks.base import Task, TaskContext, TaskResult


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ProgramTask(Task):
    """A task whose work is one argv."""

    argv: tuple[str, ...]

    async def run(self, context: TaskContext) -> TaskResult:
        result = await context.spawner.run(self.argv, time_limit=context.timeout)
        return TaskResult(
            ok=result.ok,
            output=result.output,
            error=result.error,
            exit_code=result.exit_code,
            duration=result.duration,
            timed_out=result.timed_out,
        )
