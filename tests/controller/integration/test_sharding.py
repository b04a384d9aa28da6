"""Three controller processes with `-enable-sharding` against one API server (the emulator and the real
control plane): they split the Canaries, each Canary is ticked by exactly one of them at any time, and when
one is SIGKILLed mid-analysis its Canaries continue on the others about one lease duration later, each
promoted exactly once.

Who ticks a Canary is read from the replicas' own logs (every tick records events, which the controller
also logs with the Canary's key), and so are the intervals each replica held each shard (`Acquired shard`
until `Released shard` or `Lost shards` plus the time it has to stop their loops). The check is the safety
property itself: no two replicas' intervals of a shard overlap, and every line a replica logs for a Canary
falls inside its interval of that Canary's shard. On a loaded machine a replica may miss a renewal and hand
a shard over mid-test (it then stops that shard's loops and exits, as a leader that lost its Lease does);
that is allowed, two replicas at once are not. Promotions are counted in the
Canary's Kubernetes events. Lease timings are short flags (3s), so a takeover takes seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import pathlib
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.kube.api import CANARIES, CONFIGMAPS, SECRETS
from controller.sharding.hashing import shard_of
from controller.sharding.leases import LEASE_LABEL, LEASES, SHARD_PREFIX, shard_number
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import ControllerProcess
from tests.controller.integration.scenarios import deploy_podinfo, set_image
from tests.controller.kube import objects
from tests.controller.kube.support import eventually

SHARDS = 12
LEASE_SECONDS = 3.0
RENEW_SECONDS = 2.0
RETRY_SECONDS = 0.4
STOP_BUDGET = timedelta(seconds=LEASE_SECONDS - RENEW_SECONDS - RETRY_SECONDS)
CANARY_COUNT = 6


def sharding_args(namespace: str) -> list[str]:
    return [
        "-enable-sharding",
        f"-shards={SHARDS}",
        f"-leader-election-namespace={namespace}",
        f"-shard-lease-duration={LEASE_SECONDS:g}s",
        f"-shard-renew-deadline={RENEW_SECONDS:g}s",
        f"-shard-retry-period={RETRY_SECONDS * 1000:g}ms",
    ]


@pytest.fixture
def replicas(bench: Bench, tmp_path: pathlib.Path) -> Iterator[list[ControllerProcess]]:
    """Three sharded controllers; the first is `bench.controller`, whose log explains a failed wait."""
    bench.controller.extra_args.extend(sharding_args(bench.ns))
    started = [bench.controller.start()]
    for index in (1, 2):
        started.append(
            ControllerProcess(
                bench.target.controller_kubeconfig,
                bench.prometheus.url,
                tmp_path / f"controller-{index}.log",
                extra_args=sharding_args(bench.ns),
            ).start()
        )
    yield started
    for process in started:  # the test may point bench.controller at another replica
        process.stop()


def log_records(controller: ControllerProcess) -> list[dict[str, Any]]:
    records = []
    for line in controller.log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def identity(controller: ControllerProcess) -> str:
    for record in log_records(controller):
        if str(record.get("msg", "")).startswith("Sharding:"):
            return str(record["msg"]).rsplit("(identity ", 1)[1].rstrip(")")
    raise AssertionError(f"no Sharding: line in\n{controller.log_tail()}")


def timestamp(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00"))


def ticked(controller: ControllerProcess, since: datetime | None = None) -> dict[str, list[datetime]]:
    """Canary key -> when this replica logged something for it (from `since` on)."""
    lines: dict[str, list[datetime]] = defaultdict(list)
    for record in log_records(controller):
        key = record.get("canary")
        if key and (since is None or timestamp(record) >= since):
            lines[str(key)].append(timestamp(record))
    return lines


Interval = tuple[datetime, datetime]


def holdings(controller: ControllerProcess, died: datetime | None = None) -> dict[int, list[Interval]]:
    """Shard -> the intervals this replica may have run its Canaries, from its log: from `Acquired shard`
    to `Released shard` (logged once the loops ended), or `Lost shards` plus the time the replica has to
    stop their loops, or its death (`died`), or the end of the test."""
    opened: dict[int, datetime] = {}
    intervals: dict[int, list[Interval]] = defaultdict(list)
    for record in log_records(controller):
        message, at = str(record.get("msg", "")), timestamp(record)
        if message.startswith(("Acquired shard ", "Released shard ")):
            shard = int(message.split()[2])
            if message.startswith("Acquired"):
                opened[shard] = at
            else:
                intervals[shard].append((opened.pop(shard), at))
        elif message.startswith("Lost shards "):
            for number in message.removeprefix("Lost shards ").split(":")[0].split(", "):
                intervals[int(number)].append((opened.pop(int(number)), at + STOP_BUDGET))
    end = died or datetime.max.replace(tzinfo=UTC)
    for shard, start in opened.items():
        intervals[shard].append((start, end))
    return intervals


def assert_one_replica_at_a_time(
    bench: Bench, replicas: list[ControllerProcess], names: list[str], died: dict[int, datetime]
) -> int:
    """No shard held by two replicas at once; every Canary line of a replica inside its holding of the
    Canary's shard. Returns how many times a shard changed hands."""
    held = [holdings(replica, died.get(index)) for index, replica in enumerate(replicas)]
    handovers = 0
    for shard in range(SHARDS):
        timeline = sorted((start, end, index) for index, own in enumerate(held) for start, end in own[shard])
        for (_, end, before), (start, _, after) in itertools.pairwise(timeline):
            assert start >= end, (
                f"shard {shard}: replica {after} from {start} while replica {before} until {end}"
            )
        handovers += max(0, len(timeline) - 1)
    for index, replica in enumerate(replicas):
        for key, lines in ticked(replica).items():
            name, _, namespace = key.rpartition(".")
            if namespace != bench.ns or name not in names:
                continue  # a Canary of an earlier test whose namespace is still being deleted
            spans = held[index][shard_of(namespace, name, SHARDS)]
            outside = [at for at in lines if not any(start <= at <= end for start, end in spans)]
            assert not outside, f"replica {index} logged {key} at {outside[:3]} outside its holdings {spans}"
    return handovers


async def shard_holders(bench: Bench) -> dict[int, str]:
    listing = await bench.api.request("GET", LEASES.path(bench.ns), query={"labelSelector": LEASE_LABEL})
    holders = {}
    for item in listing.get("items") or []:
        shard = shard_number(item["metadata"]["name"])
        if shard is not None:
            holders[shard] = str((item.get("spec") or {}).get("holderIdentity") or "")
    return holders


async def wait_split(bench: Bench, members: list[str], within: float = 60) -> dict[int, str]:
    """Until every shard is held by one of `members`, as evenly as possible."""

    async def split() -> dict[int, str] | None:
        holders = await shard_holders(bench)
        counts = sorted(list(holders.values()).count(member) for member in members)
        even = [SHARDS // len(members)] * len(members)
        return holders if len(holders) == SHARDS and counts == even else None

    return await eventually(split, within=within, interval=0.1, what=f"{SHARDS} shards split over {members}")


async def all_phase(bench: Bench, names: list[str], phase: str, within: float = 90) -> None:
    for name in names:
        await bench.wait_phase(phase, name=name, within=within)


async def test_three_replicas_split_the_canaries_and_a_killed_ones_move_without_double_promotion(
    bench: Bench, replicas: list[ControllerProcess]
) -> None:
    members = [identity(replica) for replica in await _started(replicas)]
    holders = await wait_split(bench, members)
    names = [f"app{index}" for index in range(CANARY_COUNT)]
    await bench.create(CONFIGMAPS, objects.podinfo_config())  # what every copy of podinfo mounts
    await bench.create(SECRETS, objects.podinfo_secret())
    for name in names:
        await deploy_podinfo(bench, name=name)
        canary = objects.tutorial_canary(interval="1s", name=name, target=name, webhooks=[])
        await bench.create(CANARIES, canary)
    await all_phase(bench, names, "Initialized")

    # every Canary is ticked by one replica: the holder of its shard (unless a missed renewal moved it)
    owner = {f"{name}.{bench.ns}": holders[shard_of(bench.ns, name, SHARDS)] for name in names}
    handovers = assert_one_replica_at_a_time(bench, replicas, names, {})
    if handovers == 0:
        seen = [ticked(replica) for replica in replicas]
        for key, holder in owner.items():
            loggers = [members[index] for index, keys in enumerate(seen) if key in keys]
            assert loggers == [holder], f"{key}: ticked by {loggers}, shard held by {holder}"

    # a rollout for every Canary; the replica with the most Canaries dies mid-analysis
    for name in names:
        await set_image(bench, "stefanprodan/podinfo:3.1.1", name=name)
    await all_phase(bench, names, "Progressing")
    holders = await shard_holders(bench)
    owner = {f"{name}.{bench.ns}": holders[shard_of(bench.ns, name, SHARDS)] for name in names}
    victim = max(range(3), key=lambda index: list(owner.values()).count(members[index]))
    moved = sorted(key for key, holder in owner.items() if holder == members[victim])
    assert moved, f"no canary on any replica? {owner}"
    killed_clock = time.monotonic()
    replicas[victim].kill()
    died = datetime.now(UTC)
    survivors = [member for index, member in enumerate(members) if index != victim]
    await wait_split(bench, survivors, within=30)
    takeover = time.monotonic() - killed_clock
    assert takeover < 2 * LEASE_SECONDS + 4 * RETRY_SECONDS, f"shards taken over after {takeover:.1f}s"
    bench.controller = replicas[(victim + 1) % 3]  # a living replica's log explains a timeout
    await all_phase(bench, names, "Succeeded", within=120)

    handovers = assert_one_replica_at_a_time(bench, replicas, names, {victim: died})
    after = [ticked(replica, died) for index, replica in enumerate(replicas) if index != victim]
    for key in moved:  # continued on a survivor
        assert any(key in keys for keys in after), key
    for name in names:
        messages = await bench.messages(name)
        assert messages.count(f"New revision detected! Scaling up {name}.{bench.ns}") == 1, messages
        assert messages.count(f"Promotion completed! Scaling down {name}.{bench.ns}") == 1, messages
    print(
        f"takeover after SIGKILL: {takeover:.2f}s (lease {LEASE_SECONDS:g}s); moved {len(moved)} canaries;"
        f" shard handovers in all: {handovers}"
    )


async def test_sigterm_hands_the_shards_over_at_once_and_leaves_no_membership(
    bench: Bench, replicas: list[ControllerProcess]
) -> None:
    members = [identity(replica) for replica in await _started(replicas)]
    await wait_split(bench, members)
    started = time.monotonic()
    assert replicas[2].stop() == 0
    await wait_split(bench, members[:2], within=30)
    assert time.monotonic() - started < LEASE_SECONDS + 6  # released: no waiting out (stop takes ~1-2s)
    names = [item["metadata"]["name"] for item in (await bench.api.list(LEASES, bench.ns))["items"]]
    assert len([name for name in names if name.startswith("flagman-replica-")]) == 2
    assert "Released shard" in replicas[2].log_tail(200)
    assert len([name for name in names if name.startswith(SHARD_PREFIX)]) == SHARDS


async def _started(replicas: list[ControllerProcess]) -> list[ControllerProcess]:
    async def announced() -> bool:
        return all("Sharding:" in replica.log_path.read_text(errors="replace") for replica in replicas)

    await eventually(announced, within=60, what="three sharded replicas started")
    await asyncio.sleep(0)
    return replicas
