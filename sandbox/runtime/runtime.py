"""Wires the informers and controllers into one runtime that makes the API server behave like a cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sandbox.runtime.daemonsets import DaemonSetController
from sandbox.runtime.deployments import DeploymentController
from sandbox.runtime.endpoints import EndpointsController
from sandbox.runtime.events import EventRecorder
from sandbox.runtime.exec import PodExec
from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.informer import Informer
from sandbox.runtime.kube import (
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    NODES,
    PODS,
    REPLICASETS,
    SERVICES,
    Kube,
    KubeError,
    Obj,
)
from sandbox.runtime.loopback import pod_pool, service_pool
from sandbox.runtime.objects import timestamp
from sandbox.runtime.podhost import LoopbackNetwork
from sandbox.runtime.podman_images import PodmanImages
from sandbox.runtime.pods import PodEnvironment, PodRuntime
from sandbox.runtime.replicasets import ReplicaSetController
from sandbox.runtime.scrape_targets import ScrapeTargets
from sandbox.runtime.services import ServiceController

log = logging.getLogger(__name__)

SYNC_TIMEOUT_SECONDS = 30.0
NODE_NAME = "sandbox"


@dataclass(frozen=True)
class RuntimeSettings:
    """Where the runtime keeps its files, and which 127.N.0.0/16 block its pods and Services use."""

    state_dir: Path
    second_octet: int = 42
    #: Start every pod process in a private mount namespace that sees its namespace's hosts file as
    #: /etc/hosts (Service short names resolve there, as with a cluster's DNS search domains).
    pod_dns: bool = True
    #: Extra environment for every pod process (e.g. KUBECONFIG, so in-pod kubectl reaches the sandbox).
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: `process` (every container a local program) or `podman` (Flagman's own images run from the images
    #: `make images` built; `podman_images`).
    pod_runtime: str = "process"

    @property
    def hosts_file(self) -> Path:
        return self.state_dir / "hosts"

    @property
    def scrape_targets_file(self) -> Path:
        return self.state_dir / "prometheus" / "targets" / "pods.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"


def sandbox_node() -> Obj:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    labels = {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch}
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": timestamp()}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": labels},
        "status": {"conditions": [ready], "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]},
    }


class Runtime:
    def __init__(self, kube: Kube, settings: RuntimeSettings) -> None:
        self.kube = kube
        self.settings = settings
        self.informers = {
            resource.plural: Informer(kube, resource)
            for resource in (DEPLOYMENTS, REPLICASETS, PODS, SERVICES, ENDPOINTS, DAEMONSETS, NODES)
        }
        self.hosts = HostsFile(settings.hosts_file)
        self.pod_addresses = pod_pool(settings.second_octet)
        self.podman = PodmanImages.find(str(settings.state_dir)) if settings.pod_runtime == "podman" else None
        self.service_addresses = service_pool(settings.second_octet)
        i = self.informers
        self.deployments = DeploymentController(
            kube, i["deployments"], i["replicasets"], EventRecorder(kube, "deployment-controller")
        )
        self.replica_sets = ReplicaSetController(
            kube, i["replicasets"], i["pods"], EventRecorder(kube, "replicaset-controller")
        )
        self.daemon_sets = DaemonSetController(
            kube, i["daemonsets"], i["pods"], i["nodes"], EventRecorder(kube, "daemonset-controller")
        )
        self.pods = PodRuntime(
            PodEnvironment(
                kube=kube,
                events=EventRecorder(kube, "kubelet"),
                network=LoopbackNetwork(self.pod_addresses),
                state_dir=settings.state_dir,
                hosts=self.hosts if settings.pod_dns else None,
                extra_env=dict(settings.extra_env),
                podman=self.podman,
            ),
            i["pods"],
        )
        #: `kubectl exec` into this runtime's pods: the API server's exec backend.
        self.exec = PodExec(self.pods)
        self.endpoints = EndpointsController(kube, i["services"], i["pods"], i["endpoints"])
        self.services = ServiceController(
            kube,
            i["services"],
            i["endpoints"],
            self.service_addresses,
            self.hosts,
            EventRecorder(kube, "service-proxy"),
        )
        self.scrape_targets = ScrapeTargets(i["pods"], settings.scrape_targets_file)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self.podman is not None and (leftovers := await self.podman.remove_leftovers()):
            log.info("removed %d podman containers a previous runtime left running", leftovers)
        await self.register_node()
        queues = [self.deployments.queue, self.replica_sets.queue, self.daemon_sets.queue, self.pods.queue]
        queues += [self.endpoints.queue, self.services.queue]
        self._tasks = [asyncio.create_task(informer.run()) for informer in self.informers.values()]
        self._tasks += [asyncio.create_task(queue.run()) for queue in queues]
        synced = [informer.synced.wait() for informer in self.informers.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*synced), SYNC_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.stop()
            raise RuntimeError("the runtime could not list objects from the API server") from None

    async def register_node(self) -> None:
        """The one node everything runs on (DaemonSets match their node selectors against its labels)."""
        try:
            await self.kube.create(NODES, "", sandbox_node())
        except KubeError as exc:
            if not exc.conflict:
                log.warning("node %s not registered: %s", NODE_NAME, exc)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.pods.stop_all()
        await self.services.stop_all()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
