"""The node's object in the API: registration, the Ready heartbeat and the Lease in kube-node-lease.

The kube-controller-manager's node lifecycle controller watches both: a node whose Lease is not renewed
within its grace period becomes NotReady and, later, its pods are evicted. The TaintNodesByCondition
admission puts `node.kubernetes.io/not-ready` on a new node; the same controller lifts it once the node
reports Ready, and only then does the scheduler bind pods here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sandbox.runtime.kube import LEASES, NODES, Kube, KubeError, Obj

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
#: How often the Ready condition's heartbeat is written (the kubelet's node-status-report-frequency is 5m;
#: the Lease carries liveness, this only keeps `kubectl describe node` fresh).
STATUS_SECONDS = 60.0
MAX_PODS = 110
RUNTIME_VERSION = "flagman-sandbox://1"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def memory_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 4 * 1024 * 1024


def _architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _machine_id() -> str:
    try:
        return Path("/etc/machine-id").read_text().strip()
    except OSError:
        return uuid.uuid5(uuid.NAMESPACE_DNS, platform.node()).hex


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def resources() -> Obj:
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib()}Ki",
        "pods": str(MAX_PODS),
        "ephemeral-storage": "10Gi",
    }


def conditions(heartbeat: str, since: str) -> list[Obj]:
    def condition(kind: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": since,
        }

    return [
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "agent has sufficient memory"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "agent has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "agent has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "flagman node agent is posting ready status"),
    ]


class NodeStatus:
    def __init__(
        self, kube: Kube, name: str, host_ip: str, kubelet_port: int, kubelet_version: str, pod_cidr: str
    ) -> None:
        self.kube = kube
        self.name = name
        self.host_ip = host_ip
        self.kubelet_port = kubelet_port
        self.kubelet_version = kubelet_version
        self.pod_cidr = pod_cidr
        self.ready_since = now()

    def node(self) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": _architecture(),
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": _architecture(),
                },
            },
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]},
        }

    def status(self) -> Obj:
        return {
            "capacity": resources(),
            "allocatable": resources(),
            "addresses": [
                {"type": "InternalIP", "address": self.host_ip},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {
                "machineID": _machine_id(),
                "systemUUID": _machine_id(),
                "bootID": _boot_id(),
                "kernelVersion": platform.release(),
                "osImage": "Flagman sandbox node (local processes)",
                "containerRuntimeVersion": RUNTIME_VERSION,
                "kubeletVersion": self.kubelet_version,
                "kubeProxyVersion": self.kubelet_version,
                "operatingSystem": "linux",
                "architecture": _architecture(),
            },
            "conditions": conditions(now(), self.ready_since),
        }

    async def register(self) -> None:
        """Create the Node (or take over one of the same name) and report it Ready."""
        try:
            await self.kube.create(NODES, "", self.node())
            log.info("node %s registered", self.name)
        except KubeError as exc:
            if not exc.conflict:
                raise
            log.info("node %s registered before: taking it over", self.name)
        await self.report()  # addresses and the kubelet port may have changed since an agent restart
        await self.renew_lease()

    async def report(self) -> None:
        await self.kube.patch(NODES, "", self.name, {"status": self.status()}, subresource="status")

    def lease(self, uid: str | None) -> Obj:
        lease: Obj = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE},
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": micro_now(),
            },
        }
        if uid:
            lease["metadata"]["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": uid}
            ]
        return lease

    async def renew_lease(self) -> None:
        try:
            await self.kube.patch(LEASES, LEASE_NAMESPACE, self.name, {"spec": self.lease(None)["spec"]})
        except KubeError as exc:
            if not exc.not_found:
                raise
            node = await self.kube.get(NODES, "", self.name)
            await self.kube.create(LEASES, LEASE_NAMESPACE, self.lease(node["metadata"].get("uid")))

    async def run(self) -> None:
        """Renew the Lease every 10 s and the status every minute; an unreachable API server is retried."""
        since_status = 0.0
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            since_status += RENEW_SECONDS
            try:
                await self.renew_lease()
                if since_status >= STATUS_SECONDS:
                    since_status = 0.0
                    await self.report()
            except KubeError as exc:
                log.warning("node %s heartbeat failed (will retry): %s", self.name, exc)
                if exc.not_found:
                    with_node_gone = "the Node object was deleted; registering again"
                    log.warning("%s", with_node_gone)
                    try:
                        await self.register()
                    except KubeError as again:
                        log.warning("re-registration failed: %s", again)
