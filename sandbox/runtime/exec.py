"""`kubectl exec` for sandbox pods: a command started beside a running container, in its context.

The command gets what the container process got: its environment (the container spec's `env` with the
downward-API values, HOME, HOSTNAME, PATH), its working directory and its cluster DNS (the pod's namespace
hosts file bind-mounted over /etc/hosts in a private mount namespace, so `podinfo-canary.test` and short
Service names resolve). With a TTY it runs on a new pseudo-terminal as the session's controlling terminal, so
`kubectl exec -it POD -- sh` is an interactive shell; without one, stdin/stdout/stderr are pipes.

The API server calls :class:`PodExec` (its `ExecBackend`) from its own event loop, which in tests is not the
runtime's: only plain reads of the runtime's pod table happen across loops, the command's own I/O stays on
the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import termios
from collections.abc import Sequence

from sandbox.runtime.pods import PodRuntime
from sandbox.runtime.processes import ContainerProcess, descendants_of

#: After the command exits, how long output still held open by its leftover children is waited for.
OUTPUT_GRACE_SECONDS = 1.0
READ_CHUNK_BYTES = 64 * 1024
#: Output chunks buffered for a slow client before the command's output is no longer read (back-pressure).
BUFFERED_CHUNKS = 64
Chunk = tuple[int, bytes]


def exit_code_of(returncode: int) -> int:
    """A shell's convention, which the kubelet reports too: 128 + N for a command killed by signal N."""
    return returncode if returncode >= 0 else 128 - returncode


class ExecCommand:
    """One running exec: output chunks as `(fd, data)` in a bounded queue, ended by None."""

    def __init__(self, process: asyncio.subprocess.Process, open_outputs: int) -> None:
        self.process = process
        self.chunks: asyncio.Queue[Chunk | None] = asyncio.Queue(BUFFERED_CHUNKS)
        self._open_outputs = open_outputs
        self._outputs_closed = asyncio.Event()
        self._produced = 0
        self._ended = False
        self._watcher = asyncio.create_task(self._end_output_after_exit())

    async def read_output(self) -> Chunk | None:
        if self._ended and self.chunks.empty():
            return None
        chunk = await self.chunks.get()
        self._consumed()
        if chunk is None:
            self._ended = True
        return chunk

    def _consumed(self) -> None:
        """A chunk left the queue (a paused reader may go on)."""

    def _output_closed(self) -> None:
        self._open_outputs -= 1
        if self._open_outputs <= 0:
            self._outputs_closed.set()

    async def _end_output_after_exit(self) -> None:
        """End the output at EOF, or shortly after the exit when a background child keeps it open."""
        await self.process.wait()
        while not self._outputs_closed.is_set():
            produced = self._produced
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outputs_closed.wait(), OUTPUT_GRACE_SECONDS)
            if self._produced == produced and not self.chunks.full():
                break  # no output for a while, and not for want of a reader: a leftover child holds it
        self._stop_reading()
        await self.chunks.put(None)

    def _stop_reading(self) -> None:
        """Subclasses stop their readers here."""

    async def write_stdin(self, data: bytes) -> None:
        raise NotImplementedError

    async def close_stdin(self) -> None:
        raise NotImplementedError

    def resize(self, width: int, height: int) -> None:
        """Only a TTY has a size."""

    async def wait(self) -> int:
        return exit_code_of(await self.process.wait())

    async def kill(self) -> None:
        """Kill the command and everything it started, as a container runtime ends an exec session."""
        if self.process.returncode is None:
            for pid in descendants_of(self.process.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 5)
        self._watcher.cancel()
        self._stop_reading()


class PipeCommand(ExecCommand):
    """Without a TTY: stdin, stdout and stderr are pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        super().__init__(process, open_outputs=2)
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            asyncio.create_task(self._pump(1, process.stdout)),
            asyncio.create_task(self._pump(2, process.stderr)),
        ]

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: dict[str, str], cwd: str, stdin: bool) -> PipeCommand:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        return cls(process)

    async def _pump(self, fd: int, stream: asyncio.StreamReader) -> None:
        while data := await stream.read(READ_CHUNK_BYTES):
            self._produced += 1
            await self.chunks.put((fd, data))
        self._output_closed()

    def _stop_reading(self) -> None:
        for reader in self._readers:
            reader.cancel()

    async def write_stdin(self, data: bytes) -> None:
        if self.process.stdin is None or self.process.stdin.is_closing():
            return
        self.process.stdin.write(data)
        with contextlib.suppress(ConnectionError):
            await self.process.stdin.drain()

    async def close_stdin(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()


def _take_controlling_terminal() -> None:
    """In the child, before exec: a new session with the pty on fd 0 as its controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyCommand(ExecCommand):
    """With a TTY: the command's stdin, stdout and stderr are one pseudo-terminal; output is all fd 1."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        super().__init__(process, open_outputs=1)
        self.master = master
        self._loop = asyncio.get_running_loop()
        self._reading = True
        self._paused = False
        os.set_blocking(master, False)
        self._loop.add_reader(master, self._on_readable)

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: dict[str, str], cwd: str) -> PtyCommand:
        master, terminal = pty.openpty()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                env={"TERM": "xterm", **env},
                cwd=cwd,
                preexec_fn=_take_controlling_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(terminal)  # the child holds it now: EOF (EIO) arrives when the child's side is gone
        return cls(process, master)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process holding the terminal has closed it
            data = b""
        if data:
            self._produced += 1
            self.chunks.put_nowait((1, data))
            if self.chunks.full():  # the client reads slower than the command writes: stop reading for now
                self._paused = True
                self._loop.remove_reader(self.master)
            return
        self._stop_reading()
        self._output_closed()

    def _consumed(self) -> None:
        if self._paused and self._reading:
            self._paused = False
            self._loop.add_reader(self.master, self._on_readable)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            if not self._paused:
                self._loop.remove_reader(self.master)

    async def write_stdin(self, data: bytes) -> None:
        while data and self._reading:
            try:
                written = os.write(self.master, data)
            except BlockingIOError:
                ready = self._loop.create_future()
                self._loop.add_writer(self.master, ready.set_result, None)
                try:
                    await ready
                finally:
                    self._loop.remove_writer(self.master)
                continue
            except OSError:
                return  # the terminal is gone: the command has ended
            data = data[written:]

    async def close_stdin(self) -> None:
        """A terminal has no half-close: send end-of-file (^D), as a user closing their input would."""
        await self.write_stdin(b"\x04")

    def resize(self, width: int, height: int) -> None:
        if self._reading and width > 0 and height > 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def kill(self) -> None:
        await super().kill()
        self._close_master()

    async def wait(self) -> int:
        code = await super().wait()
        if self._watcher.done():  # the output has ended: nothing reads the terminal any more
            self._close_master()
        return code

    def _close_master(self) -> None:
        if self.master >= 0:
            self._stop_reading()
            os.close(self.master)
            self.master = -1


class PodExec:
    """The API server's exec backend: runs commands in the pods this runtime runs."""

    def __init__(self, pods: PodRuntime) -> None:
        self.pods = pods

    def _container(
        self, namespace: str, pod: str, container: str, uid: str | None = None
    ) -> ContainerProcess:
        worker = self.pods.worker_for(namespace, pod)
        if worker is None or (uid and worker.pod["metadata"].get("uid") != uid):
            raise LookupError(f'pod "{pod}" is not running in the sandbox runtime')
        for state in list(worker.containers):
            if state.spec.get("name") == container and state.process is not None and state.process.running():
                return state.process
        raise LookupError(f'container not found ("{container}")')

    def check(self, namespace: str, pod: str, uid: str, container: str) -> None:
        self._container(namespace, pod, container, uid)

    async def start(
        self, namespace: str, pod: str, container: str, command: Sequence[str], *, stdin: bool, tty: bool
    ) -> ExecCommand:
        process = self._container(namespace, pod, container)
        argv = process.exec_argv(command, stdin=stdin, tty=tty)
        env, cwd = dict(process.env), str(process.workdir)
        if tty:
            return await PtyCommand.spawn(argv, env, cwd)
        return await PipeCommand.spawn(argv, env, cwd, stdin)
