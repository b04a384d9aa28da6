"""Pod networking for the node agent: a network namespace per pod on a bridge in the node's namespace.

    node namespace  <prefix>-node: lo, bridge br0 = the pod CIDR's gateway (10.244.0.1/16), and the service
                    CIDR routed to itself (`ip route add local 10.96.0.0/16 dev lo`) so the agent's Service
                    proxy can listen on any ClusterIP
    pod namespace   <prefix>-pod-<hash of uid>: lo, eth0 = a veth whose peer hangs on br0, with the pod's IP
                    and a default route via the gateway

Private addresses exist only inside these namespaces; the host's namespace gets no interface, address or
route, and nothing routes out of the node namespace (no default route, no forwarding), so pod traffic can
reach pods, ClusterIPs and, through the agent's proxy, the API server on the host's loopback, nothing else.
Names derive from the pod uid, so an agent that restarts finds each pod's namespace, and its IP, again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import ipaddress
import logging
from dataclasses import dataclass

from sandbox.node.netns import NetnsError, connect_in, existing, ip, netns_path
from sandbox.runtime.probes import Streams

log = logging.getLogger(__name__)

BRIDGE = "br0"


class AddressesExhausted(Exception):
    pass


@dataclass(frozen=True)
class NetworkSettings:
    #: Every namespace of this node starts with it (`flagman sandbox down` deletes them by it).
    prefix: str
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"

    @property
    def node_namespace(self) -> str:
        return f"{self.prefix}-node"

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.pod_cidr).network_address + 1)

    @property
    def prefix_length(self) -> int:
        return ipaddress.ip_network(self.pod_cidr).prefixlen


def bridge_mac(gateway: str) -> str:
    """A locally administered unicast MAC from the gateway's IPv4 address: 10.244.0.1 -> 02:42:0a:f4:00:01."""
    return "02:42:" + ":".join(f"{octet:02x}" for octet in ipaddress.IPv4Address(gateway).packed)


def short_hash(uid: str) -> str:
    return hashlib.sha1(uid.encode()).hexdigest()[:10]


class NodeNetwork:
    """The agent's `PodNetwork`: see the module docstring."""

    def __init__(self, settings: NetworkSettings, node_name: str, host_ip: str = "127.0.0.1") -> None:
        self.settings = settings
        self.node_name = node_name
        self.host_ip = host_ip
        self._by_uid: dict[str, str] = {}
        self._taken: set[str] = {settings.gateway}
        self._lock = asyncio.Lock()
        self._attaching: dict[str, asyncio.Task[str]] = {}
        self._cursor = 1  # the gateway's offset

    def pod_namespace(self, uid: str) -> str:
        return f"{self.settings.prefix}-pod-{short_hash(uid)}"

    @property
    def node_namespace(self) -> str:
        return self.settings.node_namespace

    async def setup(self) -> None:
        """Create the node namespace and bridge (kept if they exist: an agent restart reuses them)."""
        node = self.node_namespace
        if not netns_path(node).exists():
            await ip("netns", "add", node)
            await ip("-n", node, "link", "set", "lo", "up")
            # A fixed MAC: a bridge without one takes the lowest of its ports' and changes it as pods come
            # and go, and pods then send to the gateway's old MAC until their ARP entry expires (tens of
            # seconds without any connection through the node: Services, the API server).
            await ip(
                "-n",
                node,
                "link",
                "add",
                BRIDGE,
                "address",
                bridge_mac(self.settings.gateway),
                "type",
                "bridge",
            )
            gateway = f"{self.settings.gateway}/{self.settings.prefix_length}"
            await ip("-n", node, "addr", "add", gateway, "dev", BRIDGE)
            await ip("-n", node, "link", "set", BRIDGE, "up")
            await ip("-n", node, "route", "add", "local", self.settings.service_cidr, "dev", "lo")
        base = int(ipaddress.ip_network(self.settings.pod_cidr).network_address)
        for name in existing(f"{self.settings.prefix}-pod-"):
            address = await self._address_in(name)
            if address:
                self._taken.add(address)
                self._cursor = max(self._cursor, int(ipaddress.ip_address(address)) - base)

    async def _address_in(self, namespace: str) -> str | None:
        output = await ip("-n", namespace, "-4", "-o", "addr", "show", "dev", "eth0", check=False)
        for token in output.split():
            if "/" in token and token[0].isdigit():
                return token.split("/", 1)[0]
        return None

    def _allocate(self) -> str:
        """The next free address after the last one given out: an address freed a moment ago is not
        reused at once, because pods' and the node's neighbour caches still hold its old MAC address
        (traffic to it would go nowhere until the entry expires, up to half a minute)."""
        network = ipaddress.ip_network(self.settings.pod_cidr)
        size = network.num_addresses
        for step in range(1, size):
            candidate = network.network_address + (self._cursor + step) % size
            address = str(candidate)
            if candidate in (network.network_address, network.broadcast_address) or address in self._taken:
                continue
            self._cursor = int(candidate) - int(network.network_address)
            self._taken.add(address)
            return address
        raise AddressesExhausted(f"no free address left in {self.settings.pod_cidr}")

    async def attach(self, uid: str, namespace: str, name: str) -> str:
        """Shielded: a pod deleted while its namespace is made waits for it, then `detach` removes it."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        task = self._attaching.get(uid)
        if task is None:
            task = asyncio.create_task(self._attach(uid, namespace, name))
            self._attaching[uid] = task
        return await asyncio.shield(task)

    async def _attach(self, uid: str, namespace: str, name: str) -> str:
        pod_ns = self.pod_namespace(uid)
        async with self._lock:
            if netns_path(pod_ns).exists():
                address = await self._address_in(pod_ns)
                if address:
                    self._by_uid[uid] = address
                    return address
                await ip("netns", "del", pod_ns, check=False)  # half made: start again
            address = self._allocate()
            try:
                await self._create(pod_ns, short_hash(uid), address)
            except NetnsError:
                self._taken.discard(address)
                await ip("netns", "del", pod_ns, check=False)
                raise
            self._by_uid[uid] = address
            log.info("pod %s/%s: network namespace %s, IP %s", namespace, name, pod_ns, address)
            return address

    async def _create(self, pod_ns: str, tag: str, address: str) -> None:
        node = self.node_namespace
        host_side = f"v{tag}"
        await ip("netns", "add", pod_ns)
        await ip("-n", node, "link", "del", host_side, check=False)  # left by a crashed attach
        await ip(
            "-n", node, "link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", pod_ns
        )
        await ip("-n", node, "link", "set", host_side, "master", BRIDGE, "up")
        await ip("-n", pod_ns, "link", "set", "lo", "up")
        await ip("-n", pod_ns, "addr", "add", f"{address}/{self.settings.prefix_length}", "dev", "eth0")
        await ip("-n", pod_ns, "link", "set", "eth0", "up")
        await ip("-n", pod_ns, "route", "add", "default", "via", self.settings.gateway)

    async def detach(self, uid: str) -> None:
        task = self._attaching.pop(uid, None)
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        address = self._by_uid.pop(uid, None)
        await ip("netns", "del", self.pod_namespace(uid), check=False)  # the veth pair goes with it
        if address is not None:
            self._taken.discard(address)

    def enter(self, uid: str) -> tuple[str, ...]:
        return ("nsenter", f"--net={netns_path(self.pod_namespace(uid))}", "--")

    def enter_node(self) -> tuple[str, ...]:
        return ("nsenter", f"--net={netns_path(self.node_namespace)}", "--")

    async def connect(self, host: str, port: int) -> Streams:
        if self._is_vacant(host):
            # A pod that is gone: the neighbour caches may still map its address to the dead veth, so
            # a SYN would wait out the caller's timeout. Fail at once, so a Service proxy whose
            # EndpointSlices lag behind tries the next endpoint without delaying the client.
            raise OSError(errno.EHOSTUNREACH, f"no pod on this node has the address {host}")
        return await connect_in(self.node_namespace, host, port)

    def _is_vacant(self, host: str) -> bool:
        """An address of this node's pod CIDR that no pod (and not the gateway) holds now."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address in ipaddress.ip_network(self.settings.pod_cidr) and host not in self._taken

    async def forget_others(self, keep: set[str]) -> None:
        """Delete the pod namespaces of pods (by uid) that no longer run here (after an agent restart)."""
        wanted = {self.pod_namespace(uid) for uid in keep}
        for name in existing(f"{self.settings.prefix}-pod-"):
            if name not in wanted:
                address = await self._address_in(name)
                await ip("netns", "del", name, check=False)
                if address:
                    self._taken.discard(address)


async def delete_all(prefix: str) -> list[str]:
    """Delete every namespace whose name starts with `prefix-` (the node's and its pods')."""
    names = existing(f"{prefix}-")
    for name in names:
        await ip("netns", "del", name, check=False)
    return names
