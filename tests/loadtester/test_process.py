"""Commands run in their own process group; deadlines kill the whole group; output is bounded."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from loadtester.process import Spawner, exec_error_text
from tests.loadtester.conftest import REPO, StartLoadTester, eventually


@pytest.fixture
def spawner() -> Iterator[Spawner]:
    spawner = Spawner()
    yield spawner
    spawner.kill_all()
    spawner.close()


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(entry.name))
    return members


async def _wait_until_gone(pgid: int, seconds: float = 2.0) -> list[int]:
    await eventually(lambda: not _group_members(pgid), seconds)
    return _group_members(pgid)


async def test_timeout_kills_the_whole_group_including_grandchildren(
    start_loadtester: StartLoadTester, tmp_path: pathlib.Path
) -> None:
    tester = await start_loadtester(timeout=0.5)
    pids = tmp_path / "pids"
    command = f"sleep 30 & echo $$ $! > {pids}; sleep 30"
    started = time.monotonic()
    reply = await tester.task(type="bash", cmd=command)
    assert time.monotonic() - started < 3
    assert (reply.status, reply.text) == (500, f"command {command} failed: : signal: killed")
    leader, grandchild = (int(pid) for pid in pids.read_text().split())
    assert await _wait_until_gone(leader) == []
    assert grandchild not in _group_members(leader)


async def test_leftover_background_processes_do_not_keep_a_task_running(
    spawner: Spawner, tmp_path: pathlib.Path
) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    # Flagger would wait for the backgrounded sleep: it holds the output pipe open.
    result = await spawner.run(["bash", "-c", f"sleep 30 & echo $$ > {pids}; echo bye"], time_limit=10)
    assert time.monotonic() - started < 3
    assert result.ok and result.output == b"bye\n"
    assert await _wait_until_gone(int(pids.read_text())) == []


async def test_output_keeps_the_last_mebibyte(spawner: Spawner) -> None:
    command = "head -c 3000000 /dev/zero | tr '\\0' a; printf END"
    result = await spawner.run(["bash", "-c", command], time_limit=10)
    assert result.ok
    assert len(result.output) == 1024 * 1024
    assert result.output.endswith(b"aaaEND")


async def test_stdout_and_stderr_are_interleaved_and_stdin_is_empty(spawner: Spawner) -> None:
    result = await spawner.run(["bash", "-c", "echo a; echo b >&2; cat; echo c"], time_limit=10)
    assert result.output == b"a\nb\nc\n"


async def test_missing_program_reads_like_go(spawner: Spawner) -> None:
    result = await spawner.run(["no-such-program-here"], time_limit=10)
    assert not result.ok
    assert result.exit_code is None
    assert result.error == 'exec: "no-such-program-here": executable file not found in $PATH'


async def test_signal_deaths_read_like_go(spawner: Spawner) -> None:
    result = await spawner.run(["bash", "-c", "kill -TERM $$"], time_limit=10)
    assert result.error == "signal: terminated"
    assert exec_error_text(-9) == "signal: killed"
    assert exec_error_text(2) == "exit status 2"


async def test_process_groups_are_tracked_while_running_and_killable(spawner: Spawner) -> None:
    running = asyncio.create_task(spawner.run(["sleep", "30"], time_limit=60))
    await asyncio.sleep(0.2)
    assert len(spawner.groups) == 1
    assert spawner.kill_all() == 1
    result = await asyncio.wait_for(running, 5)
    assert result.error == "signal: killed"
    assert len(spawner.groups) == 0


async def test_cancelling_a_run_kills_its_group(spawner: Spawner, tmp_path: pathlib.Path) -> None:
    pids = tmp_path / "pids"
    running = asyncio.create_task(spawner.run(["bash", "-c", f"echo $$ > {pids}; sleep 30"], time_limit=60))
    assert await eventually(lambda: pids.exists() and pids.read_text())
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert await _wait_until_gone(int(pids.read_text())) == []


async def test_busy_spawns_go_through_the_thread_pool_and_still_work(spawner: Spawner) -> None:
    """With commands running, spawns move off the event loop; all of them still run and finish."""
    results = await asyncio.gather(
        *(spawner.run(["bash", "-c", f"sleep 0.2; echo {number}"], time_limit=10) for number in range(12))
    )
    assert [result.output for result in results] == [f"{number}\n".encode() for number in range(12)]


def test_a_spawn_finished_after_cancellation_is_killed_and_reaped() -> None:
    import concurrent.futures

    from loadtester.process import _discard

    process = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE, start_new_session=True)
    spawned: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    spawned.set_result(process)
    _discard(spawned)
    assert process.returncode == -9


def _devnull_fds() -> int:
    fds = pathlib.Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == os.devnull)


def _spawn_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("loadtester-spawn")]


def test_importing_the_load_tester_starts_no_thread_and_opens_no_file() -> None:
    script = (
        "import os, threading\n"
        "before = sorted(os.listdir('/proc/self/fd'))\n"
        "import loadtester.app, loadtester.process\n"
        "print(threading.active_count(), sorted(os.listdir('/proc/self/fd')) == before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.split() == ["1", "True"]


async def test_closing_the_spawner_releases_its_threads_and_dev_null() -> None:
    devnull_before = _devnull_fds()
    spawner = Spawner()
    results = await asyncio.gather(*(spawner.run(["sleep", "0.1"], time_limit=10) for _ in range(3)))
    assert all(result.ok for result in results)
    assert _spawn_threads() and _devnull_fds() == devnull_before + 1
    spawner.close()
    assert not _spawn_threads() and _devnull_fds() == devnull_before
    assert (await spawner.run(["true"], time_limit=10)).ok  # usable again: takes them anew
    spawner.close()
