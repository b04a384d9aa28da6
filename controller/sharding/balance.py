"""The fair share: which shards a replica should release and which it should try to take, from one view of
the membership and shard Leases. Pure, so every replica computes the same plan from the same view; the
Leases' optimistic concurrency (a write carries the resourceVersion read) settles the races between views.

Each live replica gets `shards // replicas` shards, and the `shards % replicas` replicas that hold the most
today get one more, so a rebalance moves as few shards as possible. A replica holding more than its quota
releases its highest-numbered surplus; free shards (never held, released, or expired) go to the replicas
under quota, in name order, lowest shard first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardPlan:
    quota: int
    release: tuple[int, ...] = ()
    acquire: tuple[int, ...] = ()


def quotas(shards: int, members: Collection[str], held: Mapping[str, int]) -> dict[str, int]:
    """Shards per member: equal shares, the remainder to those holding most (ties by name)."""
    if not members:
        return {}
    base, extra = divmod(shards, len(members))
    ranked = sorted(members, key=lambda member: (-held.get(member, 0), member))
    return {member: base + (1 if index < extra else 0) for index, member in enumerate(ranked)}


def plan_shards(
    shards: int, me: str, members: Collection[str], holders: Mapping[int, str | None]
) -> ShardPlan:
    """What `me` should do. `members`: the live replicas (`me` is always one); `holders`: shard -> the
    identity holding its unexpired Lease, None (or absent) when free."""
    everyone = sorted(set(members) | {me})
    held = Counter(holder for holder in holders.values() if holder is not None)
    quota = quotas(shards, everyone, held)
    mine = sorted(shard for shard, holder in holders.items() if holder == me)
    if len(mine) > quota[me]:
        return ShardPlan(quota[me], release=tuple(mine[quota[me] :]))
    free = [shard for shard in range(shards) if holders.get(shard) is None]
    for member in everyone:
        deficit = max(0, quota[member] - held.get(member, 0))
        taken, free = free[:deficit], free[deficit:]
        if member == me:
            return ShardPlan(quota[me], acquire=tuple(taken))
    raise AssertionError("unreachable: me is a member")
