"""The demo's visibility hooks (docs/visibility.md): `flagman dashboard` running beside the demo, and
`flagman report` at its end. Both run as separate processes with the sandbox kubeconfig, as a user
would run them, so the sandbox imports nothing of the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

REPORT_TIMEOUT_SECONDS = 120.0


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DemoVisibility:
    def __init__(self, kubeconfig: Path, state_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.state_dir = state_dir
        self.dashboard: subprocess.Popen[bytes] | None = None

    def start_dashboard(self) -> str:
        """Start a read-only dashboard; return its URL."""
        port = _free_loopback_port()
        argv = [sys.executable, "-m", "flagman", "dashboard", "--kubeconfig", str(self.kubeconfig)]
        with open(self.state_dir / "dashboard.log", "ab") as output:
            self.dashboard = subprocess.Popen(
                [*argv, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return f"http://127.0.0.1:{port}/"

    def stop_dashboard(self) -> None:
        if self.dashboard is None or self.dashboard.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.dashboard.pid, signal.SIGTERM)
        try:
            self.dashboard.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.dashboard.pid, signal.SIGKILL)
            self.dashboard.wait()

    async def write_report(self, name: str, namespace: str) -> str:
        """`flagman report` of the latest run into the state dir; the HTML's path, or why there is none.

        Asynchronous: the sandbox's API server runs in this event loop and must answer the report."""
        argv = [sys.executable, "-m", "flagman", "report", name, "-n", namespace, "--kubeconfig"]
        process = await asyncio.create_subprocess_exec(
            *argv,
            str(self.kubeconfig),
            "-o",
            str(self.state_dir / "report"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), REPORT_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            return f"no report: flagman report took more than {REPORT_TIMEOUT_SECONDS:g}s"
        if process.returncode != 0:
            return f"no report: {err.decode(errors='replace').strip()}"
        return out.decode().splitlines()[0]
