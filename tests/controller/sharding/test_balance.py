"""The fair share: quotas, what one replica releases or takes, and that replicas acting on their own plans
converge to a balanced split with every shard held by exactly one replica."""

from __future__ import annotations

import random

import pytest

from controller.sharding.balance import ShardPlan, plan_shards, quotas


def test_quotas_are_equal_shares_with_the_remainder_to_those_holding_most() -> None:
    assert quotas(16, ["a", "b", "c"], {}) == {"a": 6, "b": 5, "c": 5}
    assert quotas(16, ["a", "b", "c"], {"c": 9, "b": 7}) == {"c": 6, "b": 5, "a": 5}
    assert quotas(2, ["a", "b", "c"], {}) == {"a": 1, "b": 1, "c": 0}
    assert quotas(4, [], {}) == {}


def test_a_lone_replica_takes_every_free_shard() -> None:
    assert plan_shards(4, "a", ["a"], {}) == ShardPlan(4, acquire=(0, 1, 2, 3))


def test_a_new_replica_makes_the_others_release_their_surplus() -> None:
    holders: dict[int, str | None] = {shard: "a" if shard < 8 else "b" for shard in range(16)}
    members = ["a", "b", "c"]
    assert plan_shards(16, "a", members, holders) == ShardPlan(6, release=(6, 7))
    assert plan_shards(16, "b", members, holders) == ShardPlan(5, release=(13, 14, 15))
    assert plan_shards(16, "c", members, holders) == ShardPlan(5)  # nothing free yet
    for shard in (6, 7, 13, 14, 15):
        holders[shard] = None
    assert plan_shards(16, "c", members, holders) == ShardPlan(5, acquire=(6, 7, 13, 14, 15))


def test_the_shards_of_a_dead_replica_are_split_among_the_rest() -> None:
    holders: dict[int, str | None] = {shard: "abc"[shard % 3] for shard in range(12)}
    for shard in range(12):
        if holders[shard] == "c":
            holders[shard] = None  # expired
    assert plan_shards(12, "a", ["a", "b"], holders) == ShardPlan(6, acquire=(2, 5))
    assert plan_shards(12, "b", ["a", "b"], holders) == ShardPlan(6, acquire=(8, 11))


def test_a_holder_that_is_no_member_keeps_its_shards_until_they_expire() -> None:
    holders: dict[int, str | None] = {0: "gone", 1: "gone"}
    assert plan_shards(4, "a", ["a"], holders) == ShardPlan(4, acquire=(2, 3))


@pytest.mark.parametrize("seed", range(20))
def test_replicas_acting_alone_converge_with_one_holder_per_shard(seed: int) -> None:
    """Random joins and deaths; each round the replicas act in random order on their own plan (a release
    frees the shard, a take succeeds only if the shard is still free, as the Lease's resourceVersion makes
    it). After a few quiet rounds every shard has exactly one holder and the split is fair."""
    rng = random.Random(seed)
    shards = rng.choice([1, 3, 12, 16, 32])
    members = [f"r{index}" for index in range(rng.randint(1, 5))]
    holders: dict[int, str | None] = {}
    for step in range(40):
        if step < 25 and rng.random() < 0.2:
            if rng.random() < 0.5 or len(members) == 1:
                members.append(f"r{step + 10}")
            else:
                dead = members.pop(rng.randrange(len(members)))
                holders = {s: None if h == dead else h for s, h in holders.items()}
        for me in rng.sample(members, len(members)):
            plan = plan_shards(shards, me, members, holders)
            for shard in plan.release:
                assert holders[shard] == me
                holders[shard] = None
            for shard in plan.acquire:
                if holders.get(shard) is None:
                    holders[shard] = me
    assert sorted(holders) == list(range(shards)) and None not in holders.values()
    counts = [sum(1 for holder in holders.values() if holder == member) for member in members]
    assert max(counts) - min(counts) <= 1, (members, holders)
