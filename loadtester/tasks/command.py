"""Tasks that run a local program and are judged by its exit status (cmd, bash, helm, kubectl)."""

from __future__ import annotations

from collections.abc import Sequence

from loadtester.tasks.base import Mode, Task, TaskContext, TaskResult


class ProgramTask(Task):
    """A task whose work is one argv."""

    def __init__(
        self,
        *,
        type_: str,
        mode: Mode,
        name: str,
        namespace: str,
        command: str,
        argv: Sequence[str],
        log_output: bool,
    ) -> None:
        self.type = type_
        self.mode = mode
        self.name = name
        self.namespace = namespace
        self.command = command
        self.argv = list(argv)
        self.log_output = log_output

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
