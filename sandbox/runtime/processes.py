"""Container processes: started in their own process group with output to a log file, stopped as a tree.

When the runtime is given a hosts file, each process starts in a private mount namespace where that file is
bind-mounted over /etc/hosts (`unshare --mount`), so cluster DNS names like `podinfo-canary.test` resolve
for everything the pod runs (curl, hey, helm, Python) without touching the host's /etc/hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Runs the command with the hosts file bind-mounted over /etc/hosts in a private mount namespace.
#: `unshare` and `sh` both exec, so the process id stays the container's.
MOUNT_HOSTS_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"'


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
        hosts_file: Path | None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.log_file = log_file
        self.workdir = workdir
        self.hosts_file = hosts_file
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
                *with_hosts_file(self.argv, self.hosts_file),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

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

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)
