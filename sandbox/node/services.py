"""kube-proxy's part: every Service's ClusterIP answers inside the node's network namespace.

The node namespace routes the whole service CIDR to itself, so the agent can listen on `clusterIP:port` for
every TCP port of every Service and forward each connection to a ready endpoint from the Service's
EndpointSlices (round robin), connecting from inside the node namespace. The `kubernetes` Service has no
endpoints here (the API server listens on the host's loopback, which EndpointSlices refuse): its ClusterIP
forwards to the API server through the host's loopback instead. Service names go to the cluster hosts
file, which every pod sees as /etc/hosts.
"""

from __future__ import annotations

import logging

from sandbox.node.netns import listening_socket_in
from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import Obj
from sandbox.runtime.probes import Connector, open_connection
from sandbox.runtime.proxy import Backend, PortProxy
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
API_SERVICE: Key = ("default", "kubernetes")


def slice_backends(slices: list[Obj], port_name: str) -> list[Backend]:
    """`(ip, port)` of every ready endpoint serving the Service port called `port_name`."""
    backends: set[Backend] = set()
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType", "IPv4") != "IPv4":
            continue
        ports = [
            int(p["port"])
            for p in endpoint_slice.get("ports") or []
            if str(p.get("name") or "") == port_name and p.get("port") and p.get("protocol", "TCP") == "TCP"
        ]
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                backends.update((address, port) for port in ports)
    return sorted(backends)


class NodeServiceProxy:
    def __init__(
        self,
        services: Informer,
        slices: Informer,
        hosts: HostsFile,
        node_namespace: str,
        connect: Connector,
        apiserver: Backend,
    ) -> None:
        self.services = services
        self.slices = slices
        self.hosts = hosts
        self.node_namespace = node_namespace
        self.connect = connect
        self.apiserver = apiserver
        self.proxies: dict[Key, dict[tuple[int, str], PortProxy]] = {}
        self.queue = WorkQueue("service-proxy", self.reconcile)
        services.subscribe(self._on_service)
        slices.subscribe(self._on_slice)

    def _on_service(self, event_type: str, service: Obj) -> None:
        self.queue.add((service["metadata"].get("namespace", ""), service["metadata"]["name"]))

    def _on_slice(self, event_type: str, endpoint_slice: Obj) -> None:
        meta = endpoint_slice["metadata"]
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            self.queue.add((meta.get("namespace", ""), service))

    def _slices_of(self, key: Key) -> list[Obj]:
        return [
            s
            for s in self.slices.in_namespace(key[0])
            if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == key[1]
        ]

    async def reconcile(self, key: Key) -> float | None:
        service = self.services.get(*key)
        spec = (service or {}).get("spec") or {}
        address = str(spec.get("clusterIP") or "")
        if service is None or not address or address == "None" or spec.get("type") == "ExternalName":
            await self._close(key)
            self.hosts.remove(key)
            return None
        wanted = {
            (int(port["port"]), str(port.get("name") or ""))
            for port in spec.get("ports") or []
            if port.get("protocol", "TCP") == "TCP" and port.get("port")
        }
        proxies = self.proxies.setdefault(key, {})
        for port_key in list(proxies):
            if port_key not in wanted or proxies[port_key].address != address:
                await proxies.pop(port_key).stop()
        to_api = key == API_SERVICE
        retry = None
        for port_key in wanted - set(proxies):
            proxy = PortProxy(
                address,
                port_key[0],
                listen=lambda host, port: listening_socket_in(self.node_namespace, host, port),
                connect=open_connection if to_api else self.connect,
            )
            try:
                await proxy.start()
            except OSError as exc:
                log.warning("service %s/%s: cannot listen on %s:%s: %s", *key, address, port_key[0], exc)
                retry = 1.0
                continue
            proxies[port_key] = proxy
        for (_, name), proxy in proxies.items():
            proxy.set_backends([self.apiserver] if to_api else slice_backends(self._slices_of(key), name))
        self.hosts.set(key, address)
        return retry

    async def _close(self, key: Key) -> None:
        for proxy in self.proxies.pop(key, {}).values():
            await proxy.stop()

    async def stop_all(self) -> None:
        for key in list(self.proxies):
            await self._close(key)
