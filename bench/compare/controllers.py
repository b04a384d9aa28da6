"""The two controllers under comparison, started the same way: Flagger's binary and Flagman's controller.

Both get the same flags (Flagger's names, single dash), the same API server, Prometheus stub and load tester;
each is confined to its own namespace with `-namespace`, so both can run at once on one API server.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from tests.controller.integration.harness import free_port

REPO = pathlib.Path(__file__).resolve().parents[2]
FLAGGER_DIR = REPO / ".tools" / "flagger" / "current"
# On the sandbox API emulator Flagger runs as `flagger-json` (client-go's protobuf default off: the emulator
# decodes protobuf for a few kinds only); on the real control plane as released.
FLAGGER_BINARY = FLAGGER_DIR / "flagger"
FLAGGER_JSON_BINARY = FLAGGER_DIR / "flagger-json"

# Flagger refuses analysis intervals under 10 s; Flagman's --min-analysis-interval says the same by default.
MIN_INTERVAL = "10s"


@dataclass(frozen=True)
class Kind:
    """Which controller: its name, how its API requests are recognised, how it is started."""

    name: str
    user_agent_prefixes: tuple[str, ...]

    def command(self, flagger_binary: pathlib.Path) -> list[str]:
        if self.name == "flagger":
            return [str(flagger_binary)]
        return [sys.executable, "-m", "controller", f"--min-analysis-interval={MIN_INTERVAL}"]


# client-go's default user agent is <binary name>/<version> (linux/amd64) kubernetes/<commit>.
FLAGGER = Kind("flagger", ("flagger/", "flagger-json/"))
FLAGMAN = Kind("flagman", ("flagman-controller/", "kopf/"))  # its own client and kopf's watch of Canaries
KINDS = (FLAGGER, FLAGMAN)


@dataclass
class Controller:
    kind: Kind
    kubeconfig: str
    metrics_server: str
    namespace: str
    log_path: pathlib.Path
    flagger_binary: pathlib.Path = FLAGGER_BINARY
    control_loop_interval: str = "1s"
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def args(self) -> list[str]:
        return [
            *self.kind.command(self.flagger_binary),
            f"-kubeconfig={self.kubeconfig}",
            f"-metrics-server={self.metrics_server}",
            "-mesh-provider=kubernetes",
            f"-namespace={self.namespace}",
            f"-port={self.port}",
            f"-control-loop-interval={self.control_loop_interval}",
            "-log-level=info",
        ]

    def start(self) -> Controller:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAGMAN_", "KUBECONFIG"))}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.args(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
            )
        return self

    def wait_serving(self, within: float = 60.0) -> None:
        """Until `/metrics` answers: the controller has started (and its caches synced, for Flagman)."""
        deadline = time.monotonic() + within
        while True:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.kind.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.metrics_url, timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.kind.name} did not serve /metrics:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.2)

    def scrape(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
