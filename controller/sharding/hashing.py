"""Which shard a Canary belongs to: a stable hash of `namespace/name`, then Lamping and Veach's jump
consistent hash, so every replica (and every Python process: no `hash()` randomisation) agrees, and changing
the number of shards from n to n+1 moves only about 1/(n+1) of the Canaries.

Jump hash is eight lines (arXiv:1406.2294); the PyPI packages that wrap it are C extensions without wheels
for every platform, which is not worth a dependency.
"""

from __future__ import annotations

import hashlib

_MASK64 = (1 << 64) - 1
_LCG_MULTIPLIER = 2862933555777941757  # the paper's 64-bit linear congruential generator


def jump_hash(key: int, buckets: int) -> int:
    """The bucket in `range(buckets)` of a 64-bit `key` (Lamping and Veach, 2014)."""
    if buckets < 1:
        raise ValueError("jump hash needs at least one bucket")
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * _LCG_MULTIPLIER + 1) & _MASK64
        candidate = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def canary_key_hash(namespace: str, name: str) -> int:
    """64 bits of BLAKE2b over `namespace/name` (namespaces have no `/`, so no two Canaries collide)."""
    digest = hashlib.blake2b(f"{namespace}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(namespace: str, name: str, shards: int) -> int:
    """The shard of Canary `namespace/name` among `shards`."""
    return jump_hash(canary_key_hash(namespace, name), shards)
