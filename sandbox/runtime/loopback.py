"""Loopback address allocation: every pod and every Service gets its own 127.x.y.z.

Linux routes all of 127.0.0.0/8 to the loopback interface, so each pod can bind its real ports (9898,
8080, 80) without colliding with its neighbours, the way pods in a cluster each have their own IP.
One sandbox owns one second octet: pods live in 127.N.1-127.*, Services in 127.N.128-254.*.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator


class AddressesExhausted(Exception):
    pass


class LoopbackPool:
    def __init__(self, second_octet: int, third_octets: range) -> None:
        if not 1 <= second_octet <= 254:
            raise ValueError(f"second octet {second_octet} must be 1-254")
        self.second_octet = second_octet
        self.third_octets = third_octets
        self._by_owner: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        self._cursor = self._addresses()

    def _addresses(self) -> Iterator[str]:
        while True:
            for third in self.third_octets:
                for fourth in range(1, 255):
                    yield f"127.{self.second_octet}.{third}.{fourth}"

    def __contains__(self, address: str) -> bool:
        try:
            parsed = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        octets = parsed.packed
        return octets[0] == 127 and octets[1] == self.second_octet and octets[2] in self.third_octets

    def allocate(self, owner: str) -> str:
        """The owner's address; the same one again if it already has one."""
        if owner in self._by_owner:
            return self._by_owner[owner]
        capacity = len(self.third_octets) * 254
        for _ in range(capacity):
            address = next(self._cursor)
            if address not in self._owners:
                return self.reserve(owner, address)
        raise AddressesExhausted(f"all {capacity} addresses of 127.{self.second_octet}.x.y are in use")

    def reserve(self, owner: str, address: str) -> str:
        """Record an address an object already carries (e.g. a Service's clusterIP after a restart)."""
        self._by_owner[owner] = address
        self._owners[address] = owner
        return address

    def address_of(self, owner: str) -> str | None:
        return self._by_owner.get(owner)

    def owner_of(self, address: str) -> str | None:
        return self._owners.get(address)

    def release(self, owner: str) -> None:
        address = self._by_owner.pop(owner, None)
        if address is not None:
            self._owners.pop(address, None)


def pod_pool(second_octet: int) -> LoopbackPool:
    return LoopbackPool(second_octet, range(1, 128))


def service_pool(second_octet: int) -> LoopbackPool:
    return LoopbackPool(second_octet, range(128, 255))
