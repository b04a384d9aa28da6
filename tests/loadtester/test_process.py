"""Commands run in their own process group; deadlines kill the whole group; output is bounded."""

from __future__ import annotations

import asyncio
import pathlib
import time

from loadtester.process import ProcessGroups, exec_error_text, run_command
from tests.loadtester.conftest import StartLoadTester, eventually


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


async def test_leftover_background_processes_do_not_keep_a_task_running(tmp_path: pathlib.Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    # Flagger would wait for the backgrounded sleep: it holds the output pipe open.
    result = await run_command(["bash", "-c", f"sleep 30 & echo $$ > {pids}; echo bye"], time_limit=10)
    assert time.monotonic() - started < 3
    assert result.ok and result.output == b"bye\n"
    assert await _wait_until_gone(int(pids.read_text())) == []


async def test_output_keeps_the_last_mebibyte() -> None:
    command = "head -c 3000000 /dev/zero | tr '\\0' a; printf END"
    result = await run_command(["bash", "-c", command], time_limit=10)
    assert result.ok
    assert len(result.output) == 1024 * 1024
    assert result.output.endswith(b"aaaEND")


async def test_stdout_and_stderr_are_interleaved_and_stdin_is_empty() -> None:
    result = await run_command(["bash", "-c", "echo a; echo b >&2; cat; echo c"], time_limit=10)
    assert result.output == b"a\nb\nc\n"


async def test_missing_program_reads_like_go() -> None:
    result = await run_command(["no-such-program-here"], time_limit=10)
    assert not result.ok
    assert result.exit_code is None
    assert result.error == 'exec: "no-such-program-here": executable file not found in $PATH'


async def test_signal_deaths_read_like_go() -> None:
    result = await run_command(["bash", "-c", "kill -TERM $$"], time_limit=10)
    assert result.error == "signal: terminated"
    assert exec_error_text(-9) == "signal: killed"
    assert exec_error_text(2) == "exit status 2"


async def test_process_groups_are_tracked_while_running_and_killable() -> None:
    groups = ProcessGroups()
    running = asyncio.create_task(run_command(["sleep", "30"], time_limit=60, groups=groups))
    await asyncio.sleep(0.2)
    assert len(groups) == 1
    assert groups.kill_all() == 1
    result = await asyncio.wait_for(running, 5)
    assert result.error == "signal: killed"
    assert len(groups) == 0


async def test_cancelling_a_run_kills_its_group(tmp_path: pathlib.Path) -> None:
    pids = tmp_path / "pids"
    running = asyncio.create_task(run_command(["bash", "-c", f"echo $$ > {pids}; sleep 30"], time_limit=60))
    assert await eventually(lambda: pids.exists() and pids.read_text())
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert await _wait_until_gone(int(pids.read_text())) == []


async def test_busy_spawns_go_through_the_thread_pool_and_still_work() -> None:
    """With commands running, spawns move off the event loop; all of them still run and finish."""
    results = await asyncio.gather(
        *(run_command(["bash", "-c", f"sleep 0.2; echo {number}"], time_limit=10) for number in range(12))
    )
    assert [result.output for result in results] == [f"{number}\n".encode() for number in range(12)]


def test_a_spawn_finished_after_cancellation_is_killed_and_reaped() -> None:
    import concurrent.futures
    import subprocess

    from loadtester.process import _discard

    process = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE, start_new_session=True)
    spawned: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    spawned.set_result(process)
    _discard(spawned)
    assert process.returncode == -9
