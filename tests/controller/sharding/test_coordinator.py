"""Shard coordinators in one process against the sandbox API server over real HTTP, with short timings.

The Canary loops are stood in for by `Loops`, which records when each shard's loops were started and
stopped; a replica that crashes or is cut off from the API server is `Partitioned`, a client that passes
requests to the real one until the test cuts it off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from controller.errors import UnavailableError
from controller.kube.api import KubeApi
from controller.sharding.coordinator import (
    DEAD_MEMBER_AFTER_LEASES,
    CanaryFilter,
    ShardCoordinator,
    ShardsLost,
)
from controller.sharding.hashing import shard_of
from controller.sharding.leases import LEASE_LABEL, LEASES, shard_lease_name
from controller.sharding.timings import ShardTimings, ShardTimingsError
from sandbox.apiserver.testing import ApiServer
from sandbox.controlplane import ControlPlane
from tests.controller.kube.support import create_namespace, eventually

TIMINGS = ShardTimings(lease_duration=1.0, renew_deadline=0.6, retry_period=0.15)
SHARDS = 12
CANARIES = [("test", f"app-{index}") for index in range(120)]


class Partitioned:
    """The real client until `cut()`: then every request fails as if the API server were unreachable."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self.cut_off = False

    def cut(self) -> None:
        self.cut_off = True

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._api, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.cut_off:
                raise UnavailableError("connection refused (partitioned by the test)")
            return await method(*args, **kwargs)

        return call


@dataclass
class Loops:
    """What the scheduler would run: the Canaries the coordinator owns, with start and stop times."""

    coordinator: ShardCoordinator | None = None
    stops: list[tuple[float, list[tuple[str, str]]]] = field(default_factory=list)
    stop_seconds: float = 0.0

    def start(self) -> None:
        pass

    async def stop(self, selected: CanaryFilter, grace: float) -> None:
        await asyncio.sleep(self.stop_seconds)
        self.stops.append((time.monotonic(), [key for key in CANARIES if selected(*key)]))


@dataclass
class Replica:
    coordinator: ShardCoordinator
    loops: Loops
    api: Partitioned
    task: asyncio.Task[None] | None = None
    acquired: dict[int, float] = field(default_factory=dict)
    exits: list[int] = field(default_factory=list)

    def owns(self, key: tuple[str, str]) -> bool:
        return self.coordinator.owns(*key)


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await KubeApi.connect(apiserver.kubeconfig)
    await create_namespace(client, "test")
    yield client
    await client.close()


@pytest.fixture
async def replicas(api: KubeApi) -> AsyncIterator[Callable[..., Replica]]:
    started: list[Replica] = []

    def start(identity: str, shards: int = SHARDS, stop_seconds: float = 0.0) -> Replica:
        loops = Loops(stop_seconds=stop_seconds)
        client = Partitioned(api)
        replica: Replica

        def report(shard: int, held: bool) -> None:
            if held:
                replica.acquired[shard] = time.monotonic()

        coordinator = ShardCoordinator(
            client,  # type: ignore[arg-type]
            "test",
            identity,
            shards,
            TIMINGS,
            start_loops=loops.start,
            stop_loops=loops.stop,
            report=report,
            exit_process=lambda code: replica.exits.append(code),
        )
        replica = Replica(coordinator, loops, client)
        replica.task = asyncio.create_task(coordinator.run())
        started.append(replica)
        return replica

    yield start
    tasks = {replica.task for replica in started if replica.task is not None}
    while not all(task.done() for task in tasks):
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)


async def balanced(replicas: list[Replica], shares: list[int], within: float = 10.0) -> None:
    async def split() -> bool:
        held = [replica.coordinator.held for replica in replicas]
        every = sorted(shard for shards in held for shard in shards)
        return sorted(len(shards) for shards in held) == sorted(shares) and every == list(range(SHARDS))

    await eventually(split, within=within, what=f"shares {shares}")


async def holder(api: KubeApi, shard: int) -> str:
    lease = await api.get(LEASES, "test", shard_lease_name(shard))
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def test_three_replicas_split_the_shards_and_each_canary_has_one_owner(
    api: KubeApi, replicas: Callable[..., Replica]
) -> None:
    group = [replicas(name) for name in ("a", "b", "c")]
    await balanced(group, [4, 4, 4])
    for key in CANARIES:
        assert [replica.owns(key) for replica in group].count(True) == 1, key
    for replica in group:
        for shard in replica.coordinator.held:
            assert await holder(api, shard) == replica.coordinator.identity


async def test_a_new_replica_gets_its_share_from_the_others(replicas: Callable[..., Replica]) -> None:
    first = [replicas("a"), replicas("b")]
    await balanced(first, [6, 6])
    late = replicas("c")
    await balanced([*first, late], [4, 4, 4])
    # the others stopped the loops of the shards they gave up before releasing them
    moved = {
        shard_of(*key, SHARDS) for _, keys in first[0].loops.stops + first[1].loops.stops for key in keys
    }
    assert moved == set(late.coordinator.held)


async def test_a_replica_shutting_down_hands_its_shards_over_at_once(
    api: KubeApi, replicas: Callable[..., Replica]
) -> None:
    group = [replicas(name) for name in ("a", "b", "c")]
    await balanced(group, [4, 4, 4])
    leaving = group.pop()
    mine = leaving.coordinator.held
    assert leaving.task is not None
    stopped_at = time.monotonic()
    leaving.task.cancel()
    await asyncio.gather(leaving.task, return_exceptions=True)
    assert [await holder(api, shard) for shard in mine] == [""] * len(mine)  # released, no waiting out
    await balanced(group, [6, 6])
    taken = min(at for replica in group for shard, at in replica.acquired.items() if shard in mine)
    assert taken - stopped_at < TIMINGS.lease_duration
    assert (await api.list(LEASES, "test"))["items"] and leaving.coordinator.member_lease_name not in [
        item["metadata"]["name"] for item in (await api.list(LEASES, "test"))["items"]
    ]


async def test_a_cut_off_replica_stops_its_canaries_before_another_takes_them_over_then_leaves(
    replicas: Callable[..., Replica], caplog: pytest.LogCaptureFixture
) -> None:
    group = [replicas(name) for name in ("a", "b", "c")]
    await balanced(group, [4, 4, 4])
    cut = group.pop()
    mine = set(cut.coordinator.held)
    cut.api.cut()
    cut_at = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="controller.sharding"):
        await balanced(group, [6, 6])
    # the cut-off replica stopped the loops of every shard it held...
    stopped = {shard_of(*key, SHARDS) for _, keys in cut.loops.stops for key in keys}
    assert stopped == mine
    stopped_at = max(at for at, _ in cut.loops.stops)
    assert cut.coordinator.held == [] and not any(cut.owns(key) for key in CANARIES)
    # ...after its renew deadline and before the lease duration, and nobody took one over before that
    taken = min(at for replica in group for shard, at in replica.acquired.items() if shard in mine)
    assert cut_at + TIMINGS.renew_deadline - TIMINGS.retry_period <= min(at for at, _ in cut.loops.stops)
    assert stopped_at < taken
    assert taken - cut_at >= TIMINGS.lease_duration
    assert taken - cut_at < 3 * TIMINGS.lease_duration
    assert "Lost shards" in caplog.text and cut.exits == []
    # ...and then leaves: `run` raises ShardsLost (the process exits 1 and restarts with fresh caches)
    assert cut.task is not None
    await asyncio.wait({cut.task}, timeout=2 * TIMINGS.retry_period)
    assert cut.task.done() and isinstance(cut.task.exception(), ShardsLost)


async def test_a_paused_replica_owns_nothing_before_its_renewal_task_runs(
    replicas: Callable[..., Replica],
) -> None:
    alone = replicas("alone")
    await balanced([alone], [SHARDS])
    assert all(alone.owns(key) for key in CANARIES)
    # a pause of the process (SIGSTOP, a frozen VM) past the renew deadline: its monotonic clock jumps
    alone.coordinator._monotonic = lambda: time.monotonic() + TIMINGS.renew_deadline
    assert not any(alone.owns(key) for key in CANARIES)


async def test_a_replica_whose_canaries_do_not_stop_in_time_exits(replicas: Callable[..., Replica]) -> None:
    slow = replicas("slow", stop_seconds=5.0)
    await balanced([slow], [SHARDS])
    slow.api.cut()

    async def exited() -> bool:
        return bool(slow.exits) and set(slow.exits) == {1}

    await eventually(exited, within=TIMINGS.lease_duration + 1)


async def test_replicas_with_another_shard_count_take_nothing_while_both_run(
    replicas: Callable[..., Replica], caplog: pytest.LogCaptureFixture
) -> None:
    old = replicas("old")
    await balanced([old], [SHARDS])
    with caplog.at_level(logging.WARNING, logger="controller.sharding"):
        new = replicas("new", shards=8)
        await asyncio.sleep(6 * TIMINGS.retry_period)
    assert new.coordinator.held == [] and len(old.coordinator.held) == SHARDS  # the old one keeps its own
    assert "replicas with another -shards than 8 are running: old (12)" in caplog.text


@pytest.mark.parametrize(
    ("timings", "message"),
    [
        (
            (1.0, 0.9, 0.2),
            r"-shard-lease-duration \(1s\) must be greater than -shard-renew-deadline \(0.9s\) plus",
        ),
        ((15.0, 2.0, 2.0), r"-shard-renew-deadline \(2s\) must be greater than 1.2 x -shard-retry-period"),
        ((0.0, 1.0, 1.0), "must be positive"),
    ],
)
def test_timings_that_cannot_keep_the_promise_are_refused(
    timings: tuple[float, float, float], message: str
) -> None:
    with pytest.raises(ShardTimingsError, match=message):
        ShardTimings(*timings)


async def ghost_is_deleted(api: KubeApi, namespace: str, coordinator: ShardCoordinator) -> None:
    """A membership Lease nobody renews is deleted after DEAD_MEMBER_AFTER_LEASES lease durations."""
    ghost = "flagman-replica-ghost"
    spec = {
        "holderIdentity": "ghost_1",
        "leaseDurationSeconds": 1,
        "renewTime": "2026-01-01T00:00:00.000000Z",
    }
    await api.create(
        LEASES,
        namespace,
        {
            "metadata": {"name": ghost, "namespace": namespace, "labels": {LEASE_LABEL: "replica"}},
            "spec": spec,
        },
    )
    running = asyncio.create_task(coordinator.run())
    try:

        async def gone() -> bool:
            names = [item["metadata"]["name"] for item in (await api.list(LEASES, namespace))["items"]]
            return ghost not in names and coordinator.member_lease_name in names

        await eventually(gone, within=DEAD_MEMBER_AFTER_LEASES * TIMINGS.lease_duration + 3)
        assert len(coordinator.held) == SHARDS  # the ghost was no live member: it got no share
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def lone_coordinator(api: KubeApi, namespace: str) -> ShardCoordinator:
    async def stop(selected: CanaryFilter, grace: float) -> None:
        pass

    return ShardCoordinator(
        api, namespace, "alone", SHARDS, TIMINGS, start_loops=lambda: None, stop_loops=stop
    )


async def test_the_membership_lease_of_a_replica_gone_for_long_is_deleted(api: KubeApi) -> None:
    await ghost_is_deleted(api, "test", lone_coordinator(api, "test"))


async def test_kube_apiserver_accepts_the_lease_writes_and_the_conditional_delete(
    control_plane: ControlPlane, real_namespace: str
) -> None:
    client = await KubeApi.connect(str(control_plane.admin_kubeconfig))
    try:
        await ghost_is_deleted(client, real_namespace, lone_coordinator(client, real_namespace))
    finally:
        await client.close()
