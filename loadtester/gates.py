"""The gate store: manual-approval and manual-rollback flags keyed by canary (Flagger's semantics).

Keys are `<name>.<namespace>` for gates and `rollback.<name>.<namespace>` for rollback flags. A check of
an unknown key stores `False` and answers `False`, as Flagger does. State lives in process memory,
so — as with Flagger — gates are per replica; `gates_kube.ConfigMapGateStore` shares them.
"""

from __future__ import annotations

from typing import Protocol

from loadtester.errors import LoadtesterError


def gate_key(name: str, namespace: str) -> str:
    return f"{name}.{namespace}"


def rollback_key(name: str, namespace: str) -> str:
    return f"rollback.{name}.{namespace}"


class GateStoreError(LoadtesterError):
    """The store cannot be read or written (a shared store's backend is down); answered with 503."""


class GateStore(Protocol):
    async def is_open(self, key: str) -> bool: ...

    async def set_open(self, key: str, is_open: bool) -> None: ...

    async def close(self) -> None:
        """Release connections (called once, when the app is cleaned up)."""


class InMemoryGateStore:
    def __init__(self) -> None:
        self._gates: dict[str, bool] = {}

    async def is_open(self, key: str) -> bool:
        return self._gates.setdefault(key, False)

    async def set_open(self, key: str, is_open: bool) -> None:
        self._gates[key] = is_open

    def snapshot(self) -> dict[str, bool]:
        return dict(self._gates)

    async def close(self) -> None:
        pass  # nothing to release: the gates live and die with the process
