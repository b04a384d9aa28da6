"""A real control plane with one node: `ControlPlane` plus the node agent as a child process.

`flagman sandbox up --control-plane=real` and `flagman demo --control-plane=real` use it. The agent runs as
its own process (`python -m sandbox.node`), so a test can kill and restart it as a kubelet can be; the
cluster gives it its identities (client certificates for `system:node:<name>` and `system:kube-proxy`)
and a kubelet serving certificate from the control plane's CA, and asks the API server to pass exec's
WebSocket through to it (`kubelet_api.APISERVER_FEATURE_GATES`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox.controlplane import ControlPlane
from sandbox.controlplane.kubeconfig import write_kubeconfig
from sandbox.node.agent import AgentSettings
from sandbox.node.kubelet_api import APISERVER_FEATURE_GATES

log = logging.getLogger(__name__)

NODE_NAME = "flagman-node"
HOST_IP = "127.0.0.1"
AGENT_STOP_SECONDS = 30.0

Progress = Callable[[str], None]


class ClusterError(Exception):
    pass


def free_port(host: str = HOST_IP) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def network_prefix(state_dir: Path) -> str:
    """Short, and the same for the same state directory: `sandbox down` finds the namespaces again."""
    return "fm" + hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:6]


class RealCluster:
    def __init__(
        self,
        state_dir: Path,
        binaries: Path,
        *,
        node_name: str = NODE_NAME,
        progress: Progress | None = None,
        ready_timeout: float = 120.0,
        pod_runtime: str = "process",
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.binaries = binaries
        self.node_name = node_name
        self.progress = progress or (lambda message: log.info("%s", message))
        self.ready_timeout = ready_timeout
        self.pod_runtime = pod_runtime
        self.plane = ControlPlane(
            self.state_dir / "control-plane",
            binaries,
            extra_apiserver_args=[f"--feature-gates={APISERVER_FEATURE_GATES}"],
            progress=self.progress,
        )
        self.agent: subprocess.Popen[bytes] | None = None
        self.agent_settings: AgentSettings | None = None
        #: Holds the private mount namespace the agent runs in (see `start_agent`).
        self.holder: subprocess.Popen[bytes] | None = None

    @property
    def node_dir(self) -> Path:
        return self.state_dir / "node"

    @property
    def agent_config(self) -> Path:
        return self.node_dir / "agent.json"

    @property
    def agent_log(self) -> Path:
        return self.node_dir / "agent.log"

    @property
    def kubeconfig(self) -> Path:
        return self.plane.admin_kubeconfig

    def start(self) -> RealCluster:
        try:
            self.plane.start()
            self.agent_settings = self._agent_settings()
            self.agent_config.write_text(self.agent_settings.to_json())
            self.start_agent()
            self.wait_for_node()
        except BaseException:
            self.stop()
            raise
        return self

    def _agent_settings(self) -> AgentSettings:
        plane, name = self.plane, self.node_name
        self.node_dir.mkdir(parents=True, exist_ok=True)
        kubelet = plane.client_certificate(f"node-{name}", f"system:node:{name}", ["system:nodes"])
        proxy = plane.client_certificate("kube-proxy", "system:kube-proxy")
        serving = plane.issue_kubelet_serving_certificate(name, [HOST_IP])
        return AgentSettings(
            node_name=name,
            state_dir=self.node_dir,
            kubeconfig=plane.kubeconfig_for_certificate(kubelet, self.node_dir / "kubelet.kubeconfig"),
            proxy_kubeconfig=plane.kubeconfig_for_certificate(proxy, self.node_dir / "proxy.kubeconfig"),
            ca_file=plane.ca_file,
            kubelet_cert=serving.cert,
            kubelet_key=serving.key,
            kubelet_port=free_port(),
            apiserver_port=int(plane.url.rsplit(":", 1)[1]),
            network_prefix=network_prefix(self.state_dir),
            service_cidr=plane.service_cidr,
            host_ip=HOST_IP,
            pod_runtime=self.pod_runtime,
        )

    def in_node_mounts(self, argv: list[str]) -> list[str]:
        """`argv` in the node's private mount namespace, held by a sleeping process for the cluster's life.

        `ip netns add` bind-mounts each namespace under /run/netns; made there, those mounts are seen by
        every agent (a restarted one finds its pods' namespaces) and vanish with the holder, so nothing
        stays mounted on the host whatever happens to the agent.
        """
        if self.holder is None or self.holder.poll() is not None:
            self.holder = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "sleep", "infinity"],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            own = os.readlink("/proc/self/ns/mnt")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # join it only once it is in its own namespace
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != own:
                        break
                time.sleep(0.01)
        return ["nsenter", "--mount", "--target", str(self.holder.pid), "--", *argv]

    def start_agent(self) -> None:
        self.progress(f"node agent: starting node {self.node_name} (log {self.agent_log})")
        with self.agent_log.open("ab") as output:
            self.agent = subprocess.Popen(
                self.in_node_mounts([sys.executable, "-m", "sandbox.node", str(self.agent_config)]),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill_agent(self) -> None:
        """SIGKILL the agent (a crashed kubelet): its pods keep running until the next agent takes over."""
        if self.agent is not None and self.agent.poll() is None:
            os.killpg(self.agent.pid, signal.SIGKILL)
            self.agent.wait()

    def stop_agent(self) -> None:
        if self.agent is None:
            return
        if self.agent.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.agent.pid, signal.SIGTERM)
            try:
                self.agent.wait(timeout=AGENT_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill_agent()
        self.agent = None
        if self.agent_settings is not None:  # whatever a killed agent left: processes, namespaces
            subprocess.run(
                self.in_node_mounts(
                    [sys.executable, "-m", "sandbox.node", "--clean-up", str(self.agent_config)]
                ),
                capture_output=True,
                check=False,
            )
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            self.holder = None

    def stop(self) -> None:
        self.stop_agent()
        self.plane.stop()

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- readiness ---------------------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        import ssl

        context = ssl.create_default_context(cafile=str(self.plane.ca_file))
        request = urllib.request.Request(
            self.plane.url + path, headers={"Authorization": f"Bearer {self.plane.admin_token}"}
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return json.loads(response.read())

    def node_schedulable(self) -> bool:
        try:
            node = self.get(f"/api/v1/nodes/{self.node_name}")
        except (OSError, ValueError, urllib.error.HTTPError):
            return False
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions") or []
        )
        blocking = [t for t in node.get("spec", {}).get("taints") or [] if t.get("effect") == "NoSchedule"]
        return ready and not blocking

    def wait_for_node(self) -> None:
        """Until the node is Ready and its not-ready taint is lifted (the scheduler then binds pods)."""
        started = time.monotonic()
        while not self.node_schedulable():
            if self.agent is not None and self.agent.poll() is not None:
                raise ClusterError(
                    f"the node agent exited with {self.agent.returncode}:\n{self.agent_log_tail()}"
                )
            if time.monotonic() - started > self.ready_timeout:
                waited = f"node {self.node_name} not schedulable within {self.ready_timeout:g}s"
                raise ClusterError(f"{waited}:\n{self.agent_log_tail()}")
            time.sleep(0.2)
        self.progress(f"node agent: node {self.node_name} Ready ({time.monotonic() - started:.1f}s)")

    def agent_log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.agent_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def describe(self) -> dict[str, Any]:
        return {
            "node": self.node_name,
            "agent_pid": self.agent.pid if self.agent is not None else None,
            "mount_namespace_pid": self.holder.pid if self.holder is not None else None,
            "agent_log": str(self.agent_log),
            "pod_logs": str(self.node_dir / "logs"),
            "network_prefix": network_prefix(self.state_dir),
            "hosts": str(self.node_dir / "hosts"),
            "kubeconfig_inside": str(self.inside_kubeconfig()),
        }

    def inside_kubeconfig(self) -> Path:
        """The admin's kubeconfig for programs in the node's network namespace (`flagman sandbox exec`),
        where the API server is the `kubernetes` Service's ClusterIP."""
        path = self.node_dir / "inside.kubeconfig"
        if not path.exists():
            write_kubeconfig(
                path, server=f"https://{self.plane.service_ip}:443", ca_file=self.plane.ca_file,
                user={"token": self.plane.admin_token}, user_name="flagman-admin",
            )  # fmt: skip
        return path
