"""Run one command: its own process group, a deadline that kills the whole group, bounded output.

Flagger starts commands with Go's `exec.CommandContext`: on the deadline only the direct child gets
SIGKILL, and because Go waits for the output pipe to close, a grandchild that is still running (a
backgrounded `hey`, a `sleep &`) keeps the task "running" long after. Here every command is the leader
of a new session/process group; when the leader exits or the deadline fires, the group is SIGKILLed,
so nothing it started outlives the task. The leader's exit is observed through a pidfd *before* it is
reaped, so the group id cannot have been reused by an unrelated process when we signal it.

Output is stdout and stderr interleaved into one buffer, as in Flagger, but only the last
`MAX_OUTPUT_BYTES` are kept.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Sequence

MAX_OUTPUT_BYTES = 1024 * 1024
# After the group is killed, how long to wait for the pipe to close (a member that escaped the
# group with its own setsid could hold it open forever).
_PIPE_DRAIN_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None: did not start; negative: killed by that signal
    output: bytes
    error: str  # Go's exec error text ("exit status 1", "signal: killed", ...); "" on success
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class ProcessGroups:
    """The process groups of the commands that are running, so shutdown can kill them all."""

    def __init__(self) -> None:
        self._groups: set[int] = set()

    def add(self, pgid: int) -> None:
        self._groups.add(pgid)

    def discard(self, pgid: int) -> None:
        self._groups.discard(pgid)

    def __len__(self) -> int:
        return len(self._groups)

    def kill_all(self) -> int:
        """SIGKILL every tracked group; return how many there were."""
        groups = list(self._groups)
        for pgid in groups:
            kill_group(pgid)
        return len(groups)


class _TailBuffer:
    """Keeps the last `limit` bytes written to it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()

    def write(self, chunk: bytes) -> None:
        self._data += chunk
        excess = len(self._data) - self._limit
        if excess > 0:
            del self._data[:excess]

    def getvalue(self) -> bytes:
        return bytes(self._data)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def exec_error_text(returncode: int) -> str:
    """Go's `*exec.ExitError` text for a finished process."""
    if returncode == 0:
        return ""
    if returncode > 0:
        return f"exit status {returncode}"
    name = signal.strsignal(-returncode) or f"signal {-returncode}"
    return f"signal: {name.lower()}"


def _start_error_text(program: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError) and os.sep not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    reason = (error.strerror or str(error)).lower()
    return f"fork/exec {program}: {reason}"


# Spawning blocks the calling thread until the child has exec'ed (vfork). With nothing else running that
# is a fraction of a millisecond and cheapest inline; while other commands compete for the CPU it can take
# milliseconds, so then the spawn moves to a thread and the event loop keeps serving requests.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="loadtester-spawn")
_live_commands = 0


def _popen(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _discard(
    spawned: concurrent.futures.Future[subprocess.Popen[bytes]] | asyncio.Future[subprocess.Popen[bytes]],
) -> None:
    """A spawn finished after its caller was cancelled: kill and reap what it started."""
    if spawned.cancelled() or spawned.exception() is not None:
        return
    process = spawned.result()
    kill_group(process.pid)
    if process.stdout is not None:
        process.stdout.close()
    process.wait()


async def _spawn(loop: asyncio.AbstractEventLoop, argv: Sequence[str]) -> subprocess.Popen[bytes]:
    if _live_commands == 0:
        return _popen(argv)  # inline: the fast path when idle (see above)
    spawning = loop.run_in_executor(_SPAWNER, _popen, argv)
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        spawning.add_done_callback(_discard)
        raise


async def run_command(
    argv: Sequence[str],
    *,
    time_limit: float,
    groups: ProcessGroups | None = None,
    max_output: int = MAX_OUTPUT_BYTES,
) -> CommandResult:
    """Run `argv` (no shell of its own), stdin from /dev/null, until it exits or `time_limit` seconds pass."""
    global _live_commands
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        process = await _spawn(loop, argv)
    except OSError as error:
        return CommandResult(None, b"", _start_error_text(argv[0], error), time.monotonic() - started)
    pgid = process.pid
    assert process.stdout is not None
    pipe_fd = process.stdout.fileno()
    try:
        os.set_blocking(pipe_fd, False)
        pidfd = os.pidfd_open(process.pid)
    except OSError as error:  # e.g. out of file descriptors: do not leave the command running
        kill_group(pgid)
        process.stdout.close()
        process.wait()
        return CommandResult(None, b"", f"watching {argv[0]}: {error}", time.monotonic() - started)
    _live_commands += 1
    if groups is not None:
        groups.add(pgid)
    output = _TailBuffer(max_output)
    pipe_closed: asyncio.Future[None] = loop.create_future()
    leader_exited: asyncio.Future[None] = loop.create_future()

    def on_output() -> None:
        try:
            chunk = os.read(pipe_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            output.write(chunk)
            return
        loop.remove_reader(pipe_fd)
        if not pipe_closed.done():
            pipe_closed.set_result(None)

    def on_exit() -> None:
        loop.remove_reader(pidfd)
        if not leader_exited.done():
            leader_exited.set_result(None)

    loop.add_reader(pipe_fd, on_output)
    loop.add_reader(pidfd, on_exit)
    timed_out = False

    def on_deadline() -> None:
        nonlocal timed_out
        timed_out = True
        kill_group(pgid)

    def stop_draining() -> None:
        if not pipe_closed.done():
            pipe_closed.set_result(None)

    # Plain timers rather than wait_for/shield: this path runs for every blocking request.
    deadline = loop.call_later(time_limit, on_deadline)
    try:
        await leader_exited
        deadline.cancel()
        # The leader is a zombie until we reap it, so its group id is still ours: kill what it left.
        kill_group(pgid)
        if not pipe_closed.done():
            drain_limit = loop.call_later(_PIPE_DRAIN_SECONDS, stop_draining)
            await pipe_closed
            drain_limit.cancel()
    finally:
        deadline.cancel()
        kill_group(pgid)  # also covers cancellation (shutdown, client gone with no waiter)
        loop.remove_reader(pipe_fd)
        loop.remove_reader(pidfd)
        os.close(pidfd)
        process.stdout.close()
        returncode = process.wait()
        if groups is not None:
            groups.discard(pgid)
        _live_commands -= 1
    duration = time.monotonic() - started
    return CommandResult(returncode, output.getvalue(), exec_error_text(returncode), duration, timed_out)
