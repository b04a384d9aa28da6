"""Container processes: started in their own process group with output to a log file, stopped as a tree.

Each process starts in its pod's context (`PodContext`): optionally inside the pod's network namespace
(`nsenter --net`, on the real control plane's node) and in a private mount namespace where files are
bind-mounted over their in-image paths (`unshare --mount`): the cluster hosts file over /etc/hosts, so
cluster DNS names like `podinfo-canary.test` resolve for everything the pod runs (curl, hey, helm, Python),
and on a node the pod's resolv.conf and service-account directory. The host's files are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Runs the command with the hosts file bind-mounted over /etc/hosts in a private mount namespace.
#: `unshare` and `sh` both exec, so the process id stays the container's.
MOUNT_HOSTS_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"'
#: The general form: `SOURCE TARGET` pairs up to `--`, then the command.
MOUNT_PAIRS_SCRIPT = (
    'while [ "$1" != "--" ]; do mount --bind "$1" "$2" || exit 127; shift 2; done; shift; exec "$@"'
)


@dataclass(frozen=True)
class PodContext:
    """What a pod's processes see: `enter` runs them in the pod's network namespace (empty: the host's),
    `mounts` are `(source, target)` bind mounts in a private mount namespace."""

    enter: tuple[str, ...] = ()
    mounts: tuple[tuple[Path, str], ...] = ()

    @classmethod
    def with_hosts(cls, hosts_file: Path | None) -> PodContext:
        return cls(mounts=((hosts_file, "/etc/hosts"),) if hosts_file is not None else ())

    @property
    def hosts_file(self) -> Path | None:
        return next((source for source, target in self.mounts if target == "/etc/hosts"), None)

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` as a command line that runs in this context."""
        return [*self.enter, *with_mounts(argv, self.mounts)]


def with_mounts(argv: Sequence[str], mounts: Sequence[tuple[Path, str]]) -> list[str]:
    if not mounts:
        return list(argv)
    if len(mounts) == 1 and mounts[0][1] == "/etc/hosts":
        return with_hosts_file(argv, mounts[0][0])
    pairs = [str(part) for source, target in mounts for part in (source, target)]
    unshare = ["unshare", "--mount", "--propagation", "private", "--"]
    return [*unshare, "sh", "-c", MOUNT_PAIRS_SCRIPT, "sh", *pairs, "--", *argv]


def with_hosts_file(argv: Sequence[str], hosts_file: Path | None) -> list[str]:
    if hosts_file is None:
        return list(argv)
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        MOUNT_HOSTS_SCRIPT,
        str(hosts_file),
        *argv,
    ]


def descendants_of(root: int) -> set[int]:
    """Every living descendant of `root`, from /proc (empty where /proc is unavailable)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the ppid follows the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 2:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


class ContainerProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_file: Path,
        workdir: Path,
        context: PodContext,
        record: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.log_file = log_file
        self.workdir = workdir
        self.context = context
        #: The process id's record while it runs (`kill_recorded` ends leftovers of a crashed runtime).
        self.record = record
        self.process: asyncio.subprocess.Process | None = None
        self._spawning: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Spawn the process. Shielded: a cancelled caller must not leave an untracked process behind."""
        self._spawning = asyncio.ensure_future(self._spawn())
        await asyncio.shield(self._spawning)

    async def _spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:  # noqa: ASYNC230 - a local file, opened once per start
            self.process = await asyncio.create_subprocess_exec(
                *self.context.wrap(self.argv),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )
        if self.record is not None:
            record_process(self.record, self.process.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def container_id(self) -> str:
        """The pod status's `containerID` (empty until started)."""
        return f"sandbox://{self.pid}" if self.pid else ""

    def exec_argv(self, command: Sequence[str], *, stdin: bool, tty: bool) -> list[str]:
        """`kubectl exec`'s command as a command line that runs beside this container, in its context."""
        return self.context.wrap(command)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM the process group, then SIGKILL it and every descendant after the grace period.

        Descendants are collected first because programs like the load tester start their own tasks in new
        sessions, which a process-group signal alone would leave running, as a container's cgroup would not.
        """
        if self._spawning is not None:
            with contextlib.suppress(Exception):
                await self._spawning
        if self.process is None:
            return
        descendants = descendants_of(self.process.pid)
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), timeout=grace_seconds)
        self._signal_group(signal.SIGKILL)
        for pid in descendants | descendants_of(self.process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), timeout=5)
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid, an
    identity that a recycled pid does not share."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def record_process(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid} {_start_time(pid) or ''}\n")


def kill_recorded(directory: Path) -> int:
    """SIGKILL every recorded process that still runs (with its descendants); returns how many."""
    killed = 0
    for record in sorted(directory.glob("*")) if directory.is_dir() else []:
        try:
            pid_text, _, started = record.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            record.unlink(missing_ok=True)
            continue
        if started and _start_time(pid) == started:
            for victim in [pid, *descendants_of(pid)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(victim, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            killed += 1
        record.unlink(missing_ok=True)
    return killed
