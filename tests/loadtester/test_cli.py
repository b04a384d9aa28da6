"""The load tester as a real process: `python -m loadtester`, `flagman loadtester`, flags, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest

from tests.loadtester.conftest import REPO, eventually

HOST = "127.0.0.42"


def _free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url
        self.terminated = False

    def terminate(self) -> None:
        """One SIGTERM (a second one means "exit now" with status 1)."""
        if not self.terminated:
            self.terminated = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> tuple[int, str]:
        """SIGTERM (once), wait, and return (exit code, stderr)."""
        self.terminate()
        _, stderr = self.process.communicate(timeout=15)
        return self.process.returncode, stderr.decode()


def _start(argv: list[str]) -> Server:
    port = _free_port()
    process = subprocess.Popen(
        [*argv, f"-port={port}", f"-host={HOST}", *[]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return Server(process, url)
        except OSError:
            if process.poll() is not None:
                stderr = process.stderr.read().decode()  # type: ignore[union-attr]
                raise AssertionError(f"load tester exited: {stderr}") from None
            time.sleep(0.05)
    process.kill()
    raise AssertionError("load tester did not start listening")


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper (the sandbox's PID 1 may not reap)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _python_m(*flags: str) -> list[str]:
    return [sys.executable, "-m", "loadtester", *flags]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _post(url: str, body: object) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.text()


async def test_python_m_serves_and_exits_zero_on_sigterm(servers: list[Server]) -> None:
    server = _start(_python_m("-log-level=info", "-timeout=1h", "-namespace-regexp="))
    servers.append(server)
    assert await _get(server.url + "/healthz") == (200, "OK")
    code, stderr = server.stop()
    assert code == 0
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line["msg"].startswith("Starting load tester v0.38.0 API on port") for line in lines)
    assert lines[-1]["msg"] == "HTTP server stopped"
    assert {"level", "ts", "caller", "msg"} <= set(lines[0])


async def test_flagman_console_script(servers: list[Server]) -> None:
    flagman = pathlib.Path(sys.executable).parent / "flagman"
    server = _start([str(flagman), "loadtester", "--log-level", "info"])
    servers.append(server)
    metadata = {"type": "bash", "cmd": "echo hi", "returnCmdOutput": "true"}
    assert await _post(server.url + "/", {"name": "podinfo", "namespace": "test", "metadata": metadata}) == (
        200,
        "hi\n",
    )
    code, stderr = server.stop()
    assert code == 0
    bash_lines = [json.loads(line) for line in stderr.splitlines() if "bash command" in line]
    assert bash_lines == [{**bash_lines[0], "msg": "bash command echo hi", "canary": "podinfo"}]


async def test_sigterm_lets_in_flight_blocking_requests_finish(servers: list[Server]) -> None:
    server = _start(_python_m("-log-level=info"))
    servers.append(server)
    metadata = {"type": "bash", "cmd": "sleep 0.8; echo finished", "returnCmdOutput": "true"}
    request = asyncio.create_task(_post(server.url + "/", {"metadata": metadata}))
    await asyncio.sleep(0.3)
    server.terminate()
    assert await request == (200, "finished\n")
    code, _ = server.stop()
    assert code == 0


async def test_grace_period_expiry_kills_remaining_process_groups(
    servers: list[Server], tmp_path: pathlib.Path
) -> None:
    server = _start(_python_m("-log-level=info", "--grace-period=300ms"))
    servers.append(server)
    pids = tmp_path / "pids"
    blocking_pid = tmp_path / "blocking"
    await _post(server.url + "/", {"metadata": {"cmd": f"sleep 60 & echo $! > {pids}; sleep 60"}})
    metadata = {"type": "bash", "cmd": f"sleep 60 & echo $! > {blocking_pid}; sleep 60"}
    blocking = asyncio.create_task(_post(server.url + "/", {"metadata": metadata}))
    assert await eventually(
        lambda: pids.exists() and pids.read_text() and blocking_pid.exists() and blocking_pid.read_text()
    )
    grandchildren = [int(pids.read_text()), int(blocking_pid.read_text())]
    started = time.monotonic()
    server.terminate()
    code, stderr = await asyncio.to_thread(server.stop)
    assert code == 0
    assert time.monotonic() - started < 5
    # The blocking request's handler is cancelled at the end of the grace period (which kills its
    # group); the cleanup then kills what is left (the queued task).
    assert "killed 1 process group(s) still running at shutdown" in stderr
    assert not [pid for pid in grandchildren if _alive(pid)]
    blocking.cancel()
    await asyncio.gather(blocking, return_exceptions=True)


def test_the_process_answers_a_client_that_half_closes(servers: list[Server]) -> None:
    server = _start(_python_m("-log-level=error"))
    servers.append(server)
    body = json.dumps({"metadata": {"type": "bash", "cmd": "printf ok", "returnCmdOutput": "true"}}).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):  # to the end: the server closes after answering
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\nok")
    assert server.stop()[0] == 0


def test_help_exits_zero() -> None:
    result = subprocess.run(_python_m("-h"), capture_output=True, text=True, timeout=30, cwd=REPO)
    assert result.returncode == 0
    assert "-namespace-regexp" in result.stderr and "LOADTESTER_PORT" in result.stderr


def test_unknown_flag_exits_two() -> None:
    result = subprocess.run(_python_m("-frobnicate=1"), capture_output=True, text=True, timeout=30, cwd=REPO)
    assert result.returncode == 2
    assert "flag provided but not defined: -frobnicate" in result.stderr


def test_port_in_use_exits_one() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            _python_m(f"-port={port}", f"-host={HOST}"), capture_output=True, text=True, timeout=30, cwd=REPO
        )
    assert result.returncode == 1
    assert "HTTP server crashed" in result.stderr


async def test_second_signal_exits_at_once_with_one(servers: list[Server], tmp_path: pathlib.Path) -> None:
    server = _start(_python_m("-log-level=info"))
    servers.append(server)
    pid_file = tmp_path / "pid"
    metadata = {"type": "bash", "cmd": f"echo $$ > {pid_file}; sleep 30"}
    blocking = asyncio.create_task(_post(server.url + "/", {"metadata": metadata}))
    assert await eventually(lambda: pid_file.exists() and pid_file.read_text())
    server.terminate()
    await asyncio.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = await asyncio.to_thread(server.process.wait, 10)
    assert code == 1
    assert time.monotonic() - started < 5
    assert await eventually(lambda: not _alive(int(pid_file.read_text())))
    blocking.cancel()
    await asyncio.gather(blocking, return_exceptions=True)
