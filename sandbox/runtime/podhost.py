"""What a pod runtime needs from the machine it runs on: addresses for pods, and their credentials.

The emulator's runtime gives every pod its own loopback IP and points in-pod clients at the plain-HTTP API
server through a kubeconfig (`LoopbackNetwork`, `EmulatorCredentials`). On the real control plane the node
agent gives each pod a network namespace with a private address and real in-cluster credentials
(`sandbox.node`); the pod runtime itself is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sandbox.runtime.kube import Obj
from sandbox.runtime.loopback import LoopbackPool
from sandbox.runtime.probes import Connector, Streams, open_connection
from sandbox.runtime.serviceaccount import service_account_env

Mounts = tuple[tuple[Path, str], ...]


class PodNetwork(Protocol):
    """Gives pods their IPs and says how to run a process in, and connect to, a pod's network."""

    node_name: str
    host_ip: str

    async def attach(self, uid: str, namespace: str, name: str) -> str:
        """The pod's IP (the same one again for a pod that already has one)."""

    async def detach(self, uid: str) -> None: ...

    def enter(self, uid: str) -> tuple[str, ...]:
        """The command prefix that runs a process in the pod's network namespace (empty: the host's)."""

    async def connect(self, host: str, port: int) -> Streams:
        """A TCP connection from the node's point of view (probes)."""


class PodCredentials(Protocol):
    """A pod's API access: environment and bind mounts for its processes."""

    async def prepare(self, pod: Obj, pod_dir: Path) -> tuple[dict[str, str], Mounts]: ...


@dataclass
class LoopbackNetwork:
    """Every pod on its own 127.N.x.y in the host's network namespace."""

    pool: LoopbackPool
    node_name: str = "sandbox"
    host_ip: str = "127.0.0.1"

    async def attach(self, uid: str, namespace: str, name: str) -> str:
        return self.pool.allocate(uid)

    async def detach(self, uid: str) -> None:
        self.pool.release(uid)

    def enter(self, uid: str) -> tuple[str, ...]:
        return ()

    async def connect(self, host: str, port: int) -> Streams:
        connect: Connector = open_connection
        return await connect(host, port)


@dataclass(frozen=True)
class EmulatorCredentials:
    """A kubeconfig naming the plain-HTTP API server (see `serviceaccount`)."""

    api_url: str

    async def prepare(self, pod: Obj, pod_dir: Path) -> tuple[dict[str, str], Mounts]:
        return service_account_env(pod, pod_dir, self.api_url), ()


def merged(*mount_lists: Sequence[tuple[Path, str]]) -> Mounts:
    return tuple(mount for mounts in mount_lists for mount in mounts)
