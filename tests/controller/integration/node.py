"""A node without a kubelet, for the real control plane: what makes Deployments become available there.

The real kube-controller-manager turns Deployments into ReplicaSets and Pods and the real scheduler binds
the Pods; this registers one Node (Ready, with a Lease it renews) and plays its kubelet for the Pods bound
to it in one namespace: it writes them Running and Ready through `pods/status` (with a private, made-up
Pod IP: EndpointSlices refuse loopback ones; nothing ever connects to it), and completes their deletion as
a kubelet would once the containers stopped. Nothing runs.

Like `RolloutSimulator`, the Deployments named in `slow` take that many seconds to become ready (their
Pods do), and those in `stuck` never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from controller.errors import KubeError, NotFoundError
from controller.kube.api import KubeApi, Resource
from controller.kube.watchcache import WatchCache

log = logging.getLogger(__name__)

PODS = Resource("v1", "pods", "Pod")
NODES = Resource("v1", "nodes", "Node")
NODE_LEASES = Resource("coordination.k8s.io/v1", "leases", "Lease")
LEASE_NAMESPACE = "kube-node-lease"
HEARTBEAT_SECONDS = 5.0
LEASE_SECONDS = 40
KUBELET_PORT = 10250
CAPACITY = {"cpu": "64", "memory": "256Gi", "pods": "500", "ephemeral-storage": "100Gi"}


def _now(micro: bool = False) -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def deployment_of(pod: dict[str, Any]) -> str:
    """`podinfo` for a Pod of ReplicaSet `podinfo-7d9c5b8f4` (the Deployment controller's naming)."""
    for owner in pod["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == "ReplicaSet":
            return str(owner["name"]).rsplit("-", 1)[0]
    return ""


class NodeSimulator:
    """One Node `name` for the Pods of `namespace` (start/stop around a test)."""

    def __init__(self, api: KubeApi, name: str, namespace: str, *, address: str = "127.0.0.1") -> None:
        self.api = api
        self.name = name
        self.namespace = namespace
        self.address = address
        self.slow: dict[str, float] = {}
        self.stuck: set[str] = set()
        self._next_ip = 2
        self._pod_ips: dict[str, str] = {}
        self._ready_at: dict[str, float] = {}
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self.pods = WatchCache(api, PODS, namespace, watch_timeout_seconds=30, on_change=self._changed)
        self._tasks: list[asyncio.Task[None]] = []

    # --- the Node and its Lease -------------------------------------------------------------------------
    def _status(self) -> dict[str, Any]:
        beat = _now()
        healthy = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True", "KubeletReady"),
        ]
        return {
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "conditions": [
                {"type": kind, "status": status, "reason": reason, "message": "test harness node",
                 "lastHeartbeatTime": beat, "lastTransitionTime": beat}
                for kind, status, reason in healthy
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.address},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                "osImage": "test harness",
                "containerRuntimeVersion": "none://0", "kubeletVersion": "v0.0.0-harness",
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
            },
        }  # fmt: skip

    async def _register(self) -> None:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        await self.api.request(
            "POST",
            NODES.path(),
            body={"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": labels}},
        )
        await self.api.merge_patch(NODES, "", self.name, {"status": self._status()}, subresource="status")
        # The admission plugin TaintNodesByCondition taints a new Node not-ready; the node lifecycle
        # controller would lift it within seconds of the Ready condition. Lift it now.
        await self.api.merge_patch(NODES, "", self.name, {"spec": {"taints": None}})
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE},
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": _now(True),
            },
        }
        await self.api.create(NODE_LEASES, LEASE_NAMESPACE, lease)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(KubeError):
                await self.api.merge_patch(
                    NODE_LEASES, LEASE_NAMESPACE, self.name, {"spec": {"renewTime": _now(True)}}
                )
                await self.api.merge_patch(
                    NODES, "", self.name, {"status": self._status()}, subresource="status"
                )

    # --- the Pods ---------------------------------------------------------------------------------------
    def _changed(self, event_type: str, pod: dict[str, Any]) -> None:
        if event_type != "DELETED" and pod["spec"].get("nodeName") == self.name:
            self._pending.put_nowait(pod["metadata"]["name"])

    async def _run(self) -> None:
        while True:
            name = await self._pending.get()
            pod = self.pods.get(self.namespace, name)
            if pod is None:
                continue
            try:
                await self._handle(pod)
            except NotFoundError:
                pass
            except KubeError as error:  # a conflict or a hiccup: the next event for the pod retries
                log.warning("node %s: pod %s: %s", self.name, name, error)

    async def _handle(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            # The containers "stopped": confirm the deletion, as the kubelet does.
            await self.api.request(
                "DELETE", PODS.path(self.namespace, meta["name"]), body={"gracePeriodSeconds": 0}
            )
            return
        if _ready(pod):
            return
        owner = deployment_of(pod)
        if owner in self.stuck:
            return
        delay = self.slow.get(owner, 0.0)
        if delay:
            loop = asyncio.get_running_loop()
            if meta["name"] not in self._ready_at:
                self._ready_at[meta["name"]] = loop.time() + delay
                loop.call_later(delay + 0.01, self._pending.put_nowait, meta["name"])
            if loop.time() < self._ready_at[meta["name"]]:
                return
        await self.api.merge_patch(
            PODS, self.namespace, meta["name"], {"status": self._pod_status(pod)}, subresource="status"
        )

    def _pod_status(self, pod: dict[str, Any]) -> dict[str, Any]:
        name = pod["metadata"]["name"]
        ip = self._pod_ips.get(name)
        if ip is None:
            ip = self._pod_ips[name] = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
            self._next_ip += 1
        now = _now()
        conditions = [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ]
        containers = [
            {"name": c["name"], "image": c["image"], "imageID": "", "ready": True, "started": True,
             "restartCount": 0, "state": {"running": {"startedAt": now}}}
            for c in pod["spec"]["containers"]
        ]  # fmt: skip
        return {
            "phase": "Running",
            "hostIP": self.address,
            "hostIPs": [{"ip": self.address}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": conditions,
            "containerStatuses": containers,
        }

    # --- lifecycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._register()
        await self.pods.start()
        for pod in self.pods.items():
            self._changed("ADDED", pod)
        self._tasks = [
            asyncio.create_task(self._run(), name=f"node {self.name}"),
            asyncio.create_task(self._heartbeat(), name=f"node {self.name} heartbeat"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pods.stop()
        with contextlib.suppress(KubeError):
            await self.api.request("DELETE", NODE_LEASES.path(LEASE_NAMESPACE, self.name))
        with contextlib.suppress(KubeError):
            await self.api.request("DELETE", NODES.path(None, self.name))

    def refresh(self, name: str, namespace: str = "") -> None:
        """Look at the Pods of Deployment `name` again (after `slow`/`stuck` changed)."""
        for pod in self.pods.items(self.namespace):
            if deployment_of(pod) == name:
                self._changed("MODIFIED", pod)


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
