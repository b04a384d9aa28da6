"""Services: a loopback ClusterIP each, a TCP proxy per port, and their names in the cluster hosts file."""

from __future__ import annotations

import logging

from sandbox.runtime.events import EventRecorder
from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import SERVICES, Kube, KubeError, Obj
from sandbox.runtime.loopback import LoopbackPool
from sandbox.runtime.proxy import Backend, PortProxy
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)


def ready_backends(endpoints: Obj | None, port_name: str) -> list[Backend]:
    """`(ip, port)` of every ready address serving the Service port called `port_name`."""
    backends: list[Backend] = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if str(p.get("name", "")) == port_name]
        if not ports and len(subset.get("ports") or []) == 1 and not port_name:
            ports = subset["ports"]
        for port in ports:
            backends += [(address["ip"], int(port["port"])) for address in subset.get("addresses") or []]
    return sorted(backends)


class ServiceController:
    def __init__(
        self,
        kube: Kube,
        services: Informer,
        endpoints: Informer,
        addresses: LoopbackPool,
        hosts: HostsFile,
        events: EventRecorder,
    ) -> None:
        self.kube = kube
        self.services = services
        self.endpoints = endpoints
        self.addresses = addresses
        self.hosts = hosts
        self.events = events
        self.proxies: dict[Key, dict[tuple[int, str], PortProxy]] = {}
        self.queue = WorkQueue("services", self.reconcile)
        services.subscribe(self._on_change)
        endpoints.subscribe(self._on_change)

    def _on_change(self, event_type: str, obj: Obj) -> None:
        self.queue.add((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))

    def cluster_ip(self, namespace: str, name: str) -> str | None:
        return self.addresses.address_of(f"{namespace}/{name}")

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        service = self.services.get(namespace, name)
        owner = f"{namespace}/{name}"
        spec = (service or {}).get("spec", {})
        if service is None or spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            await self._close(key)
            self.hosts.remove(key)
            self.addresses.release(owner)
            return None
        address = await self._ensure_cluster_ip(service, owner)
        if address is None:
            return None
        wanted = {
            (int(port["port"]), str(port.get("name", "")))
            for port in spec.get("ports") or []
            if port.get("protocol", "TCP") == "TCP" and port.get("port")
        }
        proxies = self.proxies.setdefault(key, {})
        for port_key in list(proxies):
            if port_key not in wanted or proxies[port_key].address != address:
                await proxies.pop(port_key).stop()
        for port_key in wanted:
            if port_key not in proxies:
                proxy = PortProxy(address, port_key[0])
                try:
                    await proxy.start()
                except OSError as exc:
                    await self.events.record(
                        service,
                        "Warning",
                        "FailedToStartProxy",
                        f"cannot listen on {address}:{port_key[0]}: {exc}",
                    )
                    continue
                proxies[port_key] = proxy
        endpoints = self.endpoints.get(namespace, name)
        for (_, port_name), proxy in proxies.items():
            proxy.set_backends(ready_backends(endpoints, port_name))
        self.hosts.set(key, address)
        return None

    async def _ensure_cluster_ip(self, service: Obj, owner: str) -> str | None:
        """Keep a clusterIP from this sandbox's range; allocate one (and write it back) otherwise."""
        meta = service["metadata"]
        current = service.get("spec", {}).get("clusterIP") or ""
        if current in self.addresses and self.addresses.owner_of(current) in (None, owner):
            return self.addresses.reserve(owner, current)
        address = self.addresses.allocate(owner)
        if current != address:
            try:
                await self.kube.patch(
                    SERVICES,
                    meta.get("namespace", ""),
                    meta["name"],
                    {"spec": {"clusterIP": address, "clusterIPs": [address]}},
                )
            except KubeError as exc:
                await self.events.record(
                    service,
                    "Warning",
                    "ClusterIPNotAllocated",
                    f"cannot set clusterIP {address}: {exc.message}",
                )
                self.addresses.release(owner)
                return None
        return address

    async def _close(self, key: Key) -> None:
        for proxy in self.proxies.pop(key, {}).values():
            await proxy.stop()

    async def stop_all(self) -> None:
        for key in list(self.proxies):
            await self._close(key)
