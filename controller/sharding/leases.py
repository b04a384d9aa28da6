"""The Leases of sharding, as JSON: names, bodies, and what a listed Lease says.

`flagman-shard-<i>` is held by the replica that runs shard i's Canaries; `flagman-replica-<id>` is each
replica's membership, renewed like a shard Lease and carrying the number of shards the replica was started
with. Both carry the label `flagman.io/lease`, so one list call returns them all.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.kube.api import Resource

LEASES = Resource("coordination.k8s.io/v1", "leases", "Lease")
LEASE_LABEL = "flagman.io/lease"
SHARDS_ANNOTATION = "flagman.io/shards"
SHARD_PREFIX = "flagman-shard-"
REPLICA_PREFIX = "flagman-replica-"


def micro_time(moment: datetime) -> str:
    """Kubernetes `MicroTime`: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard_lease_name(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard}"


def replica_lease_name(identity: str) -> str:
    """A DNS-1123 name for `identity` (`<hostname>_<uuid>`): the readable start plus a hash of it all."""
    readable = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-")[:30].strip("-")
    digest = hashlib.blake2b(identity.encode(), digest_size=5).hexdigest()
    return f"{REPLICA_PREFIX}{readable}-{digest}" if readable else f"{REPLICA_PREFIX}{digest}"


def shard_number(name: str) -> int | None:
    """`flagman-shard-7` -> 7; None for any other name."""
    suffix = name.removeprefix(SHARD_PREFIX)
    return int(suffix) if suffix != name and suffix.isdigit() else None


def lease_body(
    name: str,
    namespace: str,
    spec: dict[str, Any],
    *,
    kind: str,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {LEASE_LABEL: kind}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def held_spec(
    previous: dict[str, Any] | None, identity: str, lease_duration: float, now: datetime
) -> dict[str, Any]:
    """The spec of a Lease `identity` takes over (a new acquireTime, one more transition) or renews."""
    spec = dict(previous or {})
    renewing = bool(previous) and spec.get("holderIdentity") == identity
    transitions = int(spec.get("leaseTransitions") or 0)
    spec.update(
        holderIdentity=identity,
        leaseDurationSeconds=max(1, math.ceil(lease_duration)),
        acquireTime=spec.get("acquireTime") if renewing else micro_time(now),
        renewTime=micro_time(now),
        leaseTransitions=transitions if renewing or previous is None else transitions + 1,
    )
    return spec


def released_spec(previous: dict[str, Any], now: datetime) -> dict[str, Any]:
    """client-go's release: no holder, so the next replica need not wait the lease duration out."""
    stamp = micro_time(now)
    return {
        **previous,
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": stamp,
        "renewTime": stamp,
    }


@dataclass(frozen=True)
class ListedLease:
    """A Lease as one list call returned it."""

    name: str
    body: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.body.get("spec") or {})

    @property
    def holder(self) -> str:
        return str(self.spec.get("holderIdentity") or "")

    @property
    def shards_announced(self) -> int | None:
        """The `-shards` a member replica runs with (None when missing or malformed)."""
        raw = ((self.body.get("metadata") or {}).get("annotations") or {}).get(SHARDS_ANNOTATION)
        return int(raw) if isinstance(raw, str) and raw.isdigit() else None
