"""The last result of each task, as `GET /tasks` shows it, kept within a fixed memory budget.

Keeping the finished `Task` and `TaskResult` would hold a task's whole output (up to 1 MiB) and its
identity (canary and command, together up to a 1 MiB request body) for each of the last 1,000 keys:
~0.9 to 2 MiB a task, so a few hundred chatty tasks would exceed the chart's 512Mi memory limit. Only what
`/tasks` serves is kept: the last 4 KiB of output and the canary, command and error text each cut to
what fits in 4 KiB of memory (4,096 ASCII characters, fewer wider ones). A record is then at most
~17 KiB, about 17 MiB for 1,000.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from collections.abc import Iterator

from loadtester.tasks import Task, TaskResult

OUTPUT_TAIL_BYTES = 4096
TEXT_LIMIT_BYTES = 4096
MAX_REMEMBERED_RESULTS = 1000
_WIDEST_CHARACTER_BYTES = 4  # CPython stores a string with 1, 2 or 4 bytes a character, by its widest


def shorten(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """`text` if it surely takes at most `limit` bytes as a Python string, else such a prefix and a marker.

    The marker carries a digest of the whole text, so two long commands that start alike stay two keys.
    """
    fits = limit if text.isascii() else limit // _WIDEST_CHARACTER_BYTES
    if len(text) <= fits:
        return text
    kept = text[:limit]
    if not kept.isascii():
        kept = text[: limit // _WIDEST_CHARACTER_BYTES]
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return (
        f"{kept}... [{len(text) - len(kept)} more characters, blake2b {digest}]"  # ASCII marker: 1 byte each
    )


@dataclasses.dataclass(frozen=True, slots=True)
class FinishedTask:
    """A finished task, reduced to what /tasks shows."""

    type: str
    mode: str
    canary: str
    command: str
    ok: bool
    exit_code: int | None
    error: str
    duration: float
    output_tail: bytes
    finished_at: float  # wall clock

    @classmethod
    def of(cls, task: Task, result: TaskResult, finished_at: float) -> FinishedTask:
        return cls(
            type=task.type,
            mode=task.mode,
            canary=shorten(task.canary),
            command=shorten(task.command),
            ok=result.ok,
            exit_code=result.exit_code,
            error=shorten(result.error),
            duration=result.duration,
            output_tail=result.output[-OUTPUT_TAIL_BYTES:],  # a copy: the whole output can be freed
            finished_at=finished_at,
        )

    @property
    def key(self) -> str:
        """The task's key (`Task.key`), with long parts shortened; built when /tasks asks."""
        return f"{self.type}:{self.canary}:{self.command}"


class TaskHistory:
    """The last result of each of the `limit` most recently finished task keys."""

    def __init__(self, limit: int = MAX_REMEMBERED_RESULTS) -> None:
        self._limit = limit
        # Keyed by the record's own strings (a tuple of references), not by a third copy of them.
        self._results: collections.OrderedDict[tuple[str, str, str], FinishedTask] = collections.OrderedDict()

    def record(self, task: Task, result: TaskResult, finished_at: float) -> None:
        finished = FinishedTask.of(task, result, finished_at)
        identity = (finished.type, finished.canary, finished.command)
        self._results[identity] = finished
        self._results.move_to_end(identity)
        while len(self._results) > self._limit:
            self._results.popitem(last=False)

    def __iter__(self) -> Iterator[FinishedTask]:
        return iter(self._results.values())

    def __len__(self) -> int:
        return len(self._results)
