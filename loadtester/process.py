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


class _Command(subprocess.Popen[bytes]):
    """A command started with stdout and stderr on one pipe whose read end stays a bare fd.

    `stdout=PIPE` would wrap it in a file object (an fstat, an isatty ioctl and an lseek per spawn) only
    for us to read the fd directly; these per-request syscalls showed in the latency of a `bash true`.
    """

    def __init__(self, argv: Sequence[str], stdin: int) -> None:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)  # the child gets its dup2 copies of write_fd
        try:
            super().__init__(
                list(argv), stdin=stdin, stdout=write_fd, stderr=write_fd, start_new_session=True
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.output_fd = read_fd


def _release(process: subprocess.Popen[bytes]) -> int:
    """Close the parent's end of the output pipe and reap the (killed or exited) leader."""
    if process.stdout is not None:
        process.stdout.close()
    if isinstance(process, _Command):
        os.close(process.output_fd)
    return process.wait()


def _discard(
    spawned: concurrent.futures.Future[_Command]
    | concurrent.futures.Future[subprocess.Popen[bytes]]
    | asyncio.Future[_Command],
) -> None:
    """A spawn finished after its caller was cancelled: kill and reap what it started."""
    if spawned.cancelled() or spawned.exception() is not None:
        return
    process = spawned.result()
    kill_group(process.pid)
    _release(process)


class Spawner:
    """Starts and watches the commands of one load tester, and knows their process groups.

    The application owns it (created with the app, closed at its cleanup), so importing this module starts
    no thread and opens no file. Spawning blocks the calling thread until the child has exec'ed (vfork).
    With nothing else running that is a fraction of a millisecond and cheapest inline; while other
    commands compete for the CPU it can take milliseconds, so then the spawn moves to a thread and the
    event loop keeps serving requests.
    """

    def __init__(self, *, spawn_threads: int = 8) -> None:
        self.groups = ProcessGroups()
        self._spawn_threads = spawn_threads
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # Every command's stdin, opened once: subprocess.DEVNULL opens (and closes) /dev/null per spawn.
        self._devnull: int | None = None
        self._live_commands = 0

    def _stdin(self) -> int:
        if self._devnull is None:
            self._devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return self._devnull

    async def _spawn(self, loop: asyncio.AbstractEventLoop, argv: Sequence[str]) -> _Command:
        stdin = self._stdin()
        if self._live_commands == 0:
            return _Command(argv, stdin)  # inline: the fast path when idle (see above)
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._spawn_threads, thread_name_prefix="loadtester-spawn"
            )
        spawning = loop.run_in_executor(self._pool, _Command, argv, stdin)
        try:
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            spawning.add_done_callback(_discard)
            raise

    def kill_all(self) -> int:
        """SIGKILL the process group of every running command; return how many there were."""
        return self.groups.kill_all()

    def close(self) -> None:
        """Release the spawn threads and /dev/null (after `kill_all`); a later `run` takes them anew."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # a spawn in flight takes milliseconds
            self._pool = None
        if self._devnull is not None:
            os.close(self._devnull)
            self._devnull = None

    async def run(
        self, argv: Sequence[str], *, time_limit: float, max_output: int = MAX_OUTPUT_BYTES
    ) -> CommandResult:
        """Run `argv` (no shell of its own), stdin from /dev/null, until it exits or `time_limit` seconds
        pass."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            process = await self._spawn(loop, argv)
        except OSError as error:
            return CommandResult(None, b"", _start_error_text(argv[0], error), time.monotonic() - started)
        self._live_commands += 1
        self.groups.add(process.pid)
        try:
            return await _watch(loop, process, argv[0], time_limit, max_output, started)
        finally:
            self.groups.discard(process.pid)
            self._live_commands -= 1


async def _watch(
    loop: asyncio.AbstractEventLoop,
    process: _Command,
    program: str,
    time_limit: float,
    max_output: int,
    started: float,
) -> CommandResult:
    """Collect the output of a started command until its leader exits or the deadline kills the group;
    the group is always killed and the leader reaped before this returns."""
    pgid = process.pid
    pipe_fd = process.output_fd
    try:
        os.set_blocking(pipe_fd, False)
        pidfd = os.pidfd_open(process.pid)
    except OSError as error:  # e.g. out of file descriptors: do not leave the command running
        kill_group(pgid)
        _release(process)
        return CommandResult(None, b"", f"watching {program}: {error}", time.monotonic() - started)
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
        stop_reading()

    # Each future is resolved only together with removing its reader, so `finally` knows what is left.
    def stop_reading() -> None:
        if not pipe_closed.done():
            loop.remove_reader(pipe_fd)
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

    # Plain timers rather than wait_for/shield: this path runs for every blocking request.
    deadline = loop.call_later(time_limit, on_deadline)
    try:
        await leader_exited
        deadline.cancel()
        # The leader is a zombie until we reap it, so its group id is still ours: kill what it left.
        kill_group(pgid)
        if not pipe_closed.done():
            drain_limit = loop.call_later(_PIPE_DRAIN_SECONDS, stop_reading)
            await pipe_closed
            drain_limit.cancel()
    finally:
        deadline.cancel()
        kill_group(pgid)  # also covers cancellation (shutdown, client gone with no waiter)
        # Readers still registered only when cancelled: remove_reader on a gone fd costs a failed
        # selector lookup, and this runs before every answer.
        if not pipe_closed.done():
            loop.remove_reader(pipe_fd)
        if not leader_exited.done():
            loop.remove_reader(pidfd)
        os.close(pidfd)
        returncode = _release(process)
    duration = time.monotonic() - started
    return CommandResult(returncode, output.getvalue(), exec_error_text(returncode), duration, timed_out)
