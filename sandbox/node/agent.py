"""The node agent: the kubelet's and kube-proxy's part of a cluster, for a real control plane.

It registers a Node, keeps its Lease and Ready heartbeat, runs the pods the scheduler binds to it as local
processes (the emulator's pod runtime: the image catalogue, probes, restarts with back-off, status through
`pods/status`), gives each pod a network namespace (`network`), in-cluster credentials (`credentials`),
answers every Service's ClusterIP (`services`) and serves the kubelet API for logs and exec
(`kubelet_api`). It acts as `system:node:<name>` (the Node authorizer's rules) and, for Services and
EndpointSlices, as `system:kube-proxy`.

A restarted agent first kills the container processes its predecessor left (their pids are recorded),
then runs every pod bound to it again in the pod's existing network namespace (same IP), counting a
restart for each container that ran; namespaces of pods that are gone are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox.node.credentials import REFRESH_AFTER_SECONDS, InClusterCredentials, ensure_mount_point
from sandbox.node.kubelet_api import KubeletApi, KubeletTLS
from sandbox.node.network import NetworkSettings, NodeNetwork, delete_all
from sandbox.node.node_status import NodeStatus
from sandbox.node.services import NodeServiceProxy
from sandbox.runtime.events import EventRecorder
from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.informer import Informer
from sandbox.runtime.kube import ENDPOINTSLICES, PODS, SERVICES, Kube, KubeError
from sandbox.runtime.podman_images import PodmanImages
from sandbox.runtime.pods import PodEnvironment, PodRuntime
from sandbox.runtime.processes import kill_recorded

log = logging.getLogger(__name__)

SYNC_TIMEOUT_SECONDS = 60.0
REGISTER_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class AgentSettings:
    node_name: str
    state_dir: Path
    #: The agent's kubelet identity (`system:node:<name>`, group `system:nodes`).
    kubeconfig: Path
    #: Its kube-proxy identity (`system:kube-proxy`): Services and EndpointSlices.
    proxy_kubeconfig: Path
    #: The cluster CA: pods' ca.crt, and the CA of the API server's kubelet client certificate.
    ca_file: Path
    kubelet_cert: Path
    kubelet_key: Path
    kubelet_port: int
    apiserver_port: int
    network_prefix: str
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    host_ip: str = "127.0.0.1"
    token_refresh_seconds: float = REFRESH_AFTER_SECONDS
    #: `process` or `podman` (Flagman's own images run from their images, in the pods' network namespaces).
    pod_runtime: str = "process"

    def podman(self) -> PodmanImages | None:
        return PodmanImages.find(str(self.state_dir)) if self.pod_runtime == "podman" else None

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def kubernetes_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr).network_address + 1)

    @property
    def network(self) -> NetworkSettings:
        return NetworkSettings(self.network_prefix, self.pod_cidr, self.service_cidr)

    def to_json(self) -> str:
        return json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}, indent=2
        )

    @classmethod
    def from_json(cls, text: str) -> AgentSettings:
        raw: dict[str, Any] = json.loads(text)
        paths = ("state_dir", "kubeconfig", "proxy_kubeconfig", "ca_file", "kubelet_cert", "kubelet_key")
        values: dict[str, Any] = {k: Path(v) if k in paths else v for k, v in raw.items()}
        return cls(**values)


class NodeAgent:
    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.network = NodeNetwork(settings.network, settings.node_name, settings.host_ip)
        self.kube: Kube | None = None
        self.proxy_kube: Kube | None = None
        self.pods: PodRuntime | None = None
        self.proxy: NodeServiceProxy | None = None
        self.kubelet: KubeletApi | None = None
        self.node: NodeStatus | None = None
        self.credentials: InClusterCredentials | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        leftovers = kill_recorded(s.pids_dir)
        if leftovers:
            log.info("killed %d container processes left by a previous agent", leftovers)
        ensure_mount_point()
        podman = s.podman()
        if podman is not None and (leftovers := await podman.remove_leftovers()):
            log.info("removed %d podman containers left by a previous agent", leftovers)
        self.kube = await Kube.from_kubeconfig(str(s.kubeconfig))
        self.proxy_kube = await Kube.from_kubeconfig(str(s.proxy_kubeconfig))
        await self.network.setup()
        hosts = HostsFile(s.state_dir / "hosts")
        pods = Informer(self.kube, PODS, field_selector=f"spec.nodeName={s.node_name}")
        services = Informer(self.proxy_kube, SERVICES)
        slices = Informer(self.proxy_kube, ENDPOINTSLICES)
        self.credentials = InClusterCredentials(self.kube, s.ca_file, s.kubernetes_service_ip)
        environment = PodEnvironment(
            kube=self.kube,
            events=EventRecorder(self.kube, "kubelet"),
            network=self.network,
            state_dir=s.state_dir,
            hosts=hosts,
            credentials=self.credentials,
            announce_scheduling=False,
            podman=podman,
        )
        self.pods = PodRuntime(environment, pods)
        self.proxy = NodeServiceProxy(
            services,
            slices,
            hosts,
            self.network.node_namespace,
            self.network.connect,
            ("127.0.0.1", s.apiserver_port),
        )
        self.kubelet = KubeletApi(self.pods, s.log_dir)
        await self.kubelet.start(
            s.host_ip, s.kubelet_port, KubeletTLS(s.kubelet_cert, s.kubelet_key, s.ca_file)
        )
        version = await self._server_version()
        self.node = NodeStatus(self.kube, s.node_name, s.host_ip, s.kubelet_port, version, s.pod_cidr)
        await self._register()
        informers = (pods, services, slices)
        self._tasks = [asyncio.create_task(informer.run()) for informer in informers]
        self._tasks += [asyncio.create_task(queue.run()) for queue in (self.pods.queue, self.proxy.queue)]
        self._tasks.append(asyncio.create_task(self.node.run()))
        self._tasks.append(asyncio.create_task(self._refresh_tokens()))
        try:
            async with asyncio.timeout(SYNC_TIMEOUT_SECONDS):
                await asyncio.gather(*(informer.synced.wait() for informer in informers))
        except TimeoutError:
            await self.stop()
            raise RuntimeError("the node agent could not list pods, Services and EndpointSlices") from None
        uids = {str(pod["metadata"].get("uid")) for pod in pods.cache.values()}
        await self.network.forget_others(uids)
        log.info("node %s ready: kubelet API on https://%s:%s", s.node_name, s.host_ip, s.kubelet_port)

    async def _refresh_tokens(self) -> None:
        """Every pod's service-account token renewed before it expires (long-lived `sandbox up`s)."""
        assert self.pods is not None and self.credentials is not None
        while True:
            await asyncio.sleep(self.settings.token_refresh_seconds)
            for worker in list(self.pods.workers.values()):
                try:
                    await self.credentials.refresh(worker.pod, worker.workdir)
                except (KubeError, OSError) as exc:
                    log.warning("pod %s/%s: token not renewed: %s", *worker.key, exc)

    async def _server_version(self) -> str:
        assert self.kube is not None
        while True:
            try:
                return str((await self.kube.request("GET", "/version")).get("gitVersion", "v0.0.0"))
            except KubeError as exc:
                log.info("waiting for the API server: %s", exc)
                await asyncio.sleep(REGISTER_RETRY_SECONDS)

    async def _register(self) -> None:
        assert self.node is not None
        while True:
            try:
                await self.node.register()
                return
            except KubeError as exc:
                log.warning("node registration failed (retrying): %s", exc)
                await asyncio.sleep(REGISTER_RETRY_SECONDS)

    async def stop(self) -> None:
        """Stop every pod (processes and namespaces), the proxy and the kubelet API."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.pods is not None:
            await self.pods.stop_all()
        if self.proxy is not None:
            await self.proxy.stop_all()
        if self.kubelet is not None:
            await self.kubelet.stop()
        for kube in (self.kube, self.proxy_kube):
            if kube is not None:
                await kube.close()
        self.kube = self.proxy_kube = None
        await delete_all(self.settings.network_prefix)

    async def __aenter__(self) -> NodeAgent:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def clean_up(settings: AgentSettings) -> tuple[int, list[str]]:
    """What `sandbox down` does after an agent that did not stop cleanly: kill its container processes and
    delete its network namespaces."""
    killed = kill_recorded(settings.pids_dir)
    podman = settings.podman()
    if podman is not None:
        killed += await podman.remove_leftovers()
    namespaces = await delete_all(settings.network_prefix)
    return killed, namespaces
