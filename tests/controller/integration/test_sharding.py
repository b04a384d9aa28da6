"""Three controller processes with `-enable-sharding` against one API server (the emulator and the real
control plane): they split the Canaries, each Canary is ticked by exactly one of them, and when one is
SIGKILLed mid-analysis its Canaries continue on the others about one lease duration later, each promoted
exactly once.

Who ticks a Canary is read from the replicas' own logs (every tick records events, which the controller
also logs with the Canary's key) and checked against the shard Leases; promotions are counted in the
Canary's Kubernetes events. Lease timings are short flags (2s), so the takeover takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from collections.abc import Iterator
from datetime import datetime
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
LEASE_SECONDS = 2.0
RETRY_SECONDS = 0.3
CANARY_COUNT = 6


def sharding_args(namespace: str) -> list[str]:
    return [
        "-enable-sharding",
        f"-shards={SHARDS}",
        f"-leader-election-namespace={namespace}",
        f"-shard-lease-duration={LEASE_SECONDS:g}s",
        "-shard-renew-deadline=1200ms",
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
    for process in started[1:]:
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


def ticked(controller: ControllerProcess, since: datetime | None = None) -> dict[str, datetime]:
    """Canary key -> the first time this replica logged something for it (after `since`)."""
    first: dict[str, datetime] = {}
    for record in log_records(controller):
        key = record.get("canary")
        at = datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00"))
        if key and (since is None or at >= since):
            first.setdefault(str(key), at)
    return first


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

    # every Canary is ticked by exactly one replica: the holder of its shard
    owner = {f"{name}.{bench.ns}": holders[shard_of(bench.ns, name, SHARDS)] for name in names}
    seen = [ticked(replica) for replica in replicas]
    for key, holder in owner.items():
        loggers = [members[index] for index, keys in enumerate(seen) if key in keys]
        assert loggers == [holder], f"{key}: ticked by {loggers}, shard held by {holder}"

    # a rollout for every Canary; the replica with the most Canaries dies mid-analysis
    for name in names:
        await set_image(bench, "stefanprodan/podinfo:3.1.1", name=name)
    await all_phase(bench, names, "Progressing")
    victim = max(range(3), key=lambda index: list(owner.values()).count(members[index]))
    moved = sorted(key for key, holder in owner.items() if holder == members[victim])
    assert moved, f"no canary on any replica? {owner}"
    killed_at = datetime.now().astimezone()
    killed_clock = time.monotonic()
    replicas[victim].kill()
    survivors = [member for index, member in enumerate(members) if index != victim]
    await wait_split(bench, survivors, within=30)
    takeover = time.monotonic() - killed_clock
    assert takeover < 2 * LEASE_SECONDS + 4 * RETRY_SECONDS, f"shards taken over after {takeover:.1f}s"
    bench.controller = replicas[(victim + 1) % 3]  # a living replica's log explains a timeout
    await all_phase(bench, names, "Succeeded", within=120)

    after = {members[index]: ticked(replicas[index], killed_at) for index in range(3) if index != victim}
    for key in moved:  # continued on exactly one survivor, only after the victim died
        assert [member for member, keys in after.items() if key in keys] == [
            (await shard_holders(bench))[shard_of(bench.ns, key.rsplit(".", 1)[0], SHARDS)]
        ], key
    for key in set(owner) - set(moved):  # the others stayed where they were
        assert [member for member, keys in after.items() if key in keys] == [owner[key]], key
    for name in names:
        messages = await bench.messages(name)
        assert messages.count(f"New revision detected! Scaling up {name}.{bench.ns}") == 1, messages
        assert messages.count(f"Promotion completed! Scaling down {name}.{bench.ns}") == 1, messages
    print(f"takeover after SIGKILL: {takeover:.2f}s (lease {LEASE_SECONDS:g}s); moved {len(moved)} canaries")


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
