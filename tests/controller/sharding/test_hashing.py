"""The Canary -> shard mapping: stable across processes, even, and consistent when the shard count grows."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from controller.sharding.hashing import jump_hash, shard_of

KEYS = [(f"team-{team}", f"app-{index}") for team in range(10) for index in range(160)]


def test_the_same_canary_maps_to_the_same_shard_in_another_process() -> None:
    # str hashes are randomised per process; the shard must not be
    here = [shard_of(namespace, name, 16) for namespace, name in KEYS[:50]]
    code = (
        "from controller.sharding.hashing import shard_of\n"
        f"print([shard_of(ns, n, 16) for ns, n in {KEYS[:50]!r}])"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip() == repr(here)


def test_known_values_never_change() -> None:
    # a change here remaps every canary of a running installation during an upgrade: keep them
    assert [shard_of("test", "podinfo", 16), shard_of("prod", "podinfo", 16), shard_of("test", "api", 3)] == [
        6,
        13,
        1,
    ]
    assert jump_hash(0, 1) == 0
    assert [jump_hash(key, 10) for key in (1, 2, 3, 2**63)] == [6, 6, 8, 5]


def test_canaries_spread_evenly_over_the_shards() -> None:
    counts = Counter(shard_of(namespace, name, 16) for namespace, name in KEYS)
    assert sorted(counts) == list(range(16))
    expected = len(KEYS) / 16
    assert all(0.75 * expected < count < 1.25 * expected for count in counts.values()), counts


def test_namespace_and_name_both_count() -> None:
    assert len({shard_of(f"ns-{index}", "podinfo", 64) for index in range(200)}) > 50
    assert len({shard_of("ns", f"app-{index}", 64) for index in range(200)}) > 50


def test_growing_the_shard_count_moves_only_the_new_shards_share() -> None:
    before = {key: shard_of(*key, 16) for key in KEYS}
    after = {key: shard_of(*key, 17) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all(after[key] == 16 for key in moved)  # a canary moves only to the new shard
    assert 0.5 / 17 < len(moved) / len(KEYS) < 1.5 / 17


def test_no_buckets_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bucket"):
        jump_hash(1, 0)
