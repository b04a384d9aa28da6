"""One replica's side of sharding: its membership Lease, the shard Leases it holds, and its fair share.

Two tasks share the state (one event loop, so no locks but the per-shard ones around Lease writes):

* the renewal task renews every held shard Lease each retry period, with a PUT carrying the
  resourceVersion of its own last write. A shard it cannot renew for the renew deadline is *lost*: it stops
  that shard's Canary loops at once and must have stopped them `retry_period` before the lease duration is
  up, or the process exits at once. Once they stopped, `run` raises `ShardsLost`: the replica leaves (its
  other shards released) and the process exits 1, as the leader does in `controller.leader`, so Kubernetes
  restarts it. A replica cut off from the API server for a renew deadline has watch caches as stale as its
  Leases; taking shards again with them would act on an old view of the Canaries (a deployed three-replica
  chart did: it re-initialised a Canary mid-analysis from a status twenty seconds old).
* the planning task lists the Leases (one call, by label) every retry period, renews the membership, and
  follows `balance.plan_shards`: it releases surplus shards (loops first, then the Lease, with no holder so
  the next replica need not wait) and takes free ones (never held, released, or expired).

Why no two replicas tick one Canary: a replica takes a Lease held by another only once it has watched the
Lease's spec stay unchanged for the whole lease duration on its own monotonic clock (client-go's rule, so
clock skew does not matter), and every write carries the resourceVersion it read, so two replicas cannot
both take it. The holder times its renewals from the moment it *sent* the request, which is before the API
server stored it and so before any other replica could have seen it: by the time another replica may start,
the old holder's loops have ended (`ShardTimings`). A released shard was stopped before its release.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from controller.errors import ConflictError, KubeError, NotFoundError
from controller.kube.api import KubeApi
from controller.sharding.balance import plan_shards
from controller.sharding.hashing import shard_of
from controller.sharding.leases import (
    LEASE_LABEL,
    LEASES,
    REPLICA_PREFIX,
    SHARDS_ANNOTATION,
    ListedLease,
    held_spec,
    lease_body,
    released_spec,
    replica_lease_name,
    shard_lease_name,
    shard_number,
)
from controller.sharding.timings import ShardTimings

logger = logging.getLogger("controller.sharding")
T = TypeVar("T")

CanaryFilter = Callable[[str, str], bool]
"""`(namespace, name)` -> whether the Canary belongs to the shards in question."""
StopLoops = Callable[[CanaryFilter, float], Awaitable[None]]
"""Stop the loops of the Canaries the filter selects, each after at most `grace` seconds, and return once
they have all ended (`controller.scheduler.Scheduler.stop_loops_where`)."""

RELEASE_GRACE_SECONDS = 5.0  # a released shard's ticks may finish their writes (the Lease is still renewed)
DEAD_MEMBER_AFTER_LEASES = 5  # a membership Lease expired for this many lease durations is deleted


def _exit_now(code: int) -> None:
    logging.shutdown()
    os._exit(code)


class ShardsLost(Exception):
    """This replica could not renew some shards in time (or another replica holds them): its view of the
    cluster is not to be trusted, so the process should exit and start again with fresh caches."""


@dataclass
class _Held:
    lease: dict[str, Any]  # as this replica last wrote it
    renewed_at: float  # monotonic time the last successful write was sent


class ShardCoordinator:
    """Holds a fair share of `shards` shard Leases in `namespace` for `identity`."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        identity: str,
        shards: int,
        timings: ShardTimings,
        *,
        start_loops: Callable[[], None],
        stop_loops: StopLoops,
        report: Callable[[int, bool], None] = lambda shard, held: None,
        monotonic: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], None] = _exit_now,
    ) -> None:
        if shards < 1:
            raise ValueError("sharding needs at least one shard")
        self.api = api
        self.namespace = namespace
        self.identity = identity
        self.shards = shards
        self.timings = timings
        self._start_loops = start_loops
        self._stop_loops = stop_loops
        self._report = report
        self._monotonic = monotonic
        self._exit = exit_process
        self.member_lease_name = replica_lease_name(identity)
        self._member: dict[str, Any] | None = None
        self._held: dict[int, _Held] = {}
        self._active: set[int] = set()  # shards whose Canaries may run loops here
        self._locks: dict[int, asyncio.Lock] = {}
        self._observed: dict[str, tuple[dict[str, Any], float]] = {}
        self._losing: set[asyncio.Task[None]] = set()
        self._members = 1
        self._mismatch = ""
        self._holdings_logged: tuple[tuple[int, ...], int] | None = None
        self._lost: ShardsLost | None = None
        self._lost_stopped = asyncio.Event()  # the lost shards' loops ended: `run` raises `_lost`

    # --- what the scheduler asks ------------------------------------------------------------------

    def owns(self, namespace: str, name: str) -> bool:
        """Whether this replica runs the loop of Canary `namespace/name`: its shard is held and was renewed
        within the renew deadline (false at once after a pause of the process, before the renewal task has
        even run, so a caller asking before each tick never acts on a Lease another replica may hold)."""
        shard = shard_of(namespace, name, self.shards)
        held = self._held.get(shard)
        return (
            shard in self._active
            and held is not None
            and self._monotonic() - held.renewed_at < self.timings.renew_deadline
        )

    @property
    def held(self) -> list[int]:
        return sorted(self._held)

    # --- the two tasks -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled (or `ShardsLost`); then stop this replica's loops, release its shards and leave
        the membership."""
        logger.info(
            "Sharding: %d shards, Leases %s0..%d and membership %s in namespace %s (identity %s)",
            self.shards,
            shard_lease_name(0)[:-1],
            self.shards - 1,
            self.member_lease_name,
            self.namespace,
            self.identity,
        )
        renewing = asyncio.create_task(self._renew_forever(), name="shard-renewal")
        try:
            await self._plan_forever()
        finally:
            await self._leave(renewing)

    async def _plan_forever(self) -> None:
        first = True
        while True:
            # The first round only announces this replica, so replicas started together split the shards
            # instead of the fastest taking them all and handing most back a round later.
            await self.plan_round(acquire=not first)
            first = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timings.retry_period * (1 + random.random() * 0.2)):
                    await self._lost_stopped.wait()
            if self._lost is not None and self._lost_stopped.is_set():
                raise self._lost

    async def _renew_forever(self) -> None:
        while True:
            now = self._monotonic()
            next_deadline = min(
                (held.renewed_at + self.timings.renew_deadline for held in self._held.values()),
                default=math.inf,
            )
            await asyncio.sleep(max(0.0, min(self.timings.retry_period, next_deadline - now)))
            await self.renew_round()

    # --- renewing ----------------------------------------------------------------------------------

    async def renew_round(self) -> None:
        """Renew every held shard; lose those that stayed unrenewed for the renew deadline."""
        await asyncio.gather(*(self._renew(shard) for shard in list(self._held)))
        now = self._monotonic()
        lost = [s for s, held in self._held.items() if now - held.renewed_at >= self.timings.renew_deadline]
        if lost:
            self._lose(lost, f"could not renew for {self.timings.renew_deadline:g}s")

    async def _renew(self, shard: int) -> None:
        async with self._lock(shard):
            held = self._held.get(shard)
            if held is None:
                return
            remaining = held.renewed_at + self.timings.renew_deadline - self._monotonic()
            if remaining <= 0:
                return
            sent = self._monotonic()
            body = {
                **held.lease,
                "spec": held_spec(held.lease.get("spec"), self.identity, self.timings.lease_duration, _now()),
            }
            try:
                written = await _within(
                    self.api.replace(LEASES, self.namespace, shard_lease_name(shard), body), remaining
                )
            except ConflictError:
                await self._after_conflict(shard, held, remaining)
                return
            except (KubeError, TimeoutError) as error:
                logger.warning("cannot renew shard %d: %s", shard, str(error) or "timed out")
                return
            if self._held.get(shard) is held:
                self._held[shard] = _Held(written, sent)
                self._observe(written)

    async def _after_conflict(self, shard: int, held: _Held, remaining: float) -> None:
        """Someone else wrote the Lease: lose the shard at once unless it still names this replica (a write of
        ours whose answer was lost), then carry on from what the API server has."""
        current = await self._read(shard_lease_name(shard))
        if current is None:
            return
        if _holder(current) != self.identity:
            self._lose([shard], "another replica holds its Lease")
        elif self._held.get(shard) is held:
            held.lease = current  # renewed next round; the deadline still counts from the last renewal sent

    def _lose(self, shards: Iterable[int], reason: str) -> None:
        """Stop the loops of `shards` before another replica may take them over; exit if they do not stop."""
        lost = [shard for shard in shards if shard in self._held]
        if not lost:
            return
        stop_by = (
            min(self._held[s].renewed_at for s in lost)
            + self.timings.lease_duration
            - self.timings.retry_period
        )
        for shard in lost:
            del self._held[shard]
            self._active.discard(shard)
            self._report(shard, False)
        logger.error("Lost shards %s: %s; stopping their canaries", _listing(lost), reason)
        self._lost = self._lost or ShardsLost(f"lost shards {_listing(lost)}: {reason}")
        task = asyncio.create_task(self._stop_lost(frozenset(lost), stop_by), name=f"stop shards {lost}")
        self._losing.add(task)
        task.add_done_callback(self._losing.discard)
        self._log_holdings()

    async def _stop_lost(self, shards: frozenset[int], stop_by: float) -> None:
        remaining = max(0.0, stop_by - self._monotonic())
        try:
            await _within(self._stop_loops(self._in(shards), remaining / 2), remaining)
        except TimeoutError:
            logger.error(
                "the canaries of lost shards %s did not stop in time: exiting before another replica starts"
                " them",
                _listing(shards),
            )
            self._exit(1)
            return
        self._lost_stopped.set()

    # --- planning ----------------------------------------------------------------------------------

    async def plan_round(self, *, acquire: bool = True) -> None:
        """List the Leases, renew the membership, release the surplus and take free shards."""
        try:
            listing = await _within(
                self.api.request("GET", LEASES.path(self.namespace), query={"labelSelector": LEASE_LABEL}),
                self.timings.retry_period,
            )
        except (KubeError, TimeoutError) as error:
            logger.warning("cannot list the shard Leases: %s", str(error) or "timed out")
            return
        leases = [
            ListedLease(str((item.get("metadata") or {}).get("name") or ""), item)
            for item in listing.get("items") or []
        ]
        for lease in leases:
            self._observe(lease.body)
        await self._keep_membership(leases)
        members = self._live_members(leases)
        self._members = len(members)
        if self._shard_counts_differ(members):
            self._log_holdings()
            return
        holders: dict[int, str | None] = {}
        by_shard: dict[int, ListedLease] = {}
        for lease in leases:
            shard = shard_number(lease.name)
            if shard is not None and shard < self.shards:
                by_shard[shard] = lease
                holders[shard] = self._live_holder(lease)
        for shard in self._held:
            holders[shard] = self.identity
        plan = plan_shards(self.shards, self.identity, members, holders)
        if plan.release:
            await self._release(plan.release)
        if acquire and self._lost is None:  # a replica that lost shards takes none with its stale view
            taken = [shard for shard in plan.acquire if await self._acquire(shard, by_shard.get(shard))]
            if taken:
                self._start_loops()
        await self._forget_dead_members(leases)
        self._log_holdings()

    def _live_members(self, leases: Collection[ListedLease]) -> dict[str, int | None]:
        """identity -> the shard count it announced, for every member Lease not expired (and this replica)."""
        members: dict[str, int | None] = {self.identity: self.shards}
        for lease in leases:
            if lease.name.startswith(REPLICA_PREFIX) and lease.holder and not self._expired(lease):
                members.setdefault(lease.holder, lease.shards_announced)
        return members

    def _shard_counts_differ(self, members: dict[str, int | None]) -> bool:
        """Replicas started with different `-shards` map Canaries to shards differently: while both run (a
        rolling update that changes the flag), nobody takes a shard, so no Canary gets two loops."""
        others = sorted(
            f"{identity} ({count})" for identity, count in members.items() if count != self.shards
        )
        mismatch = ", ".join(others)
        if mismatch != self._mismatch:
            self._mismatch = mismatch
            if mismatch:
                logger.warning(
                    "replicas with another -shards than %d are running: %s; taking no shard until they are"
                    " gone",
                    self.shards,
                    mismatch,
                )
        return bool(mismatch)

    def _live_holder(self, lease: ListedLease) -> str | None:
        return lease.holder if lease.holder and not self._expired(lease) else None

    def _expired(self, lease: ListedLease) -> bool:
        observed = self._observed.get(lease.name)
        return observed is None or self._monotonic() >= observed[1] + self.timings.lease_duration

    def _observe(self, body: dict[str, Any]) -> None:
        """Remember when this replica first saw the Lease's current spec (expiry counts from there)."""
        name = str((body.get("metadata") or {}).get("name") or "")
        spec = dict(body.get("spec") or {})
        if self._observed.get(name, ({}, 0.0))[0] != spec:
            self._observed[name] = (spec, self._monotonic())

    async def _keep_membership(self, leases: Collection[ListedLease]) -> None:
        listed = next((lease.body for lease in leases if lease.name == self.member_lease_name), None)
        current = self._member or listed
        spec = held_spec(
            current.get("spec") if current else None, self.identity, self.timings.lease_duration, _now()
        )
        try:
            if current is None:
                body = lease_body(
                    self.member_lease_name,
                    self.namespace,
                    spec,
                    kind="replica",
                    annotations={SHARDS_ANNOTATION: str(self.shards)},
                )
                written = await _within(
                    self.api.create(LEASES, self.namespace, body), self.timings.retry_period
                )
            else:
                written = await _within(
                    self.api.replace(
                        LEASES, self.namespace, self.member_lease_name, {**current, "spec": spec}
                    ),
                    self.timings.retry_period,
                )
        except (ConflictError, NotFoundError):
            self._member = None  # read again (or created) next round
            return
        except (KubeError, TimeoutError) as error:
            logger.warning(
                "cannot renew the membership Lease %s: %s", self.member_lease_name, str(error) or "timed out"
            )
            return
        self._member = written
        self._observe(written)

    async def _acquire(self, shard: int, listed: ListedLease | None) -> bool:
        name = shard_lease_name(shard)
        async with self._lock(shard):
            sent = self._monotonic()
            spec = held_spec(
                listed.spec if listed else None, self.identity, self.timings.lease_duration, _now()
            )
            try:
                if listed is None:
                    body = lease_body(name, self.namespace, spec, kind="shard")
                    request = self.api.create(LEASES, self.namespace, body)
                else:
                    request = self.api.replace(LEASES, self.namespace, name, {**listed.body, "spec": spec})
                written = await _within(request, self.timings.retry_period)
            except (KubeError, TimeoutError) as error:  # a conflict: another replica was faster
                logger.debug("cannot take shard %d: %s", shard, str(error) or "timed out")
                return False
            self._held[shard] = _Held(written, sent)
            self._observe(written)
            self._active.add(shard)
        self._report(shard, True)
        logger.info("Acquired shard %d (Lease %s/%s)", shard, self.namespace, name)
        return True

    async def _release(self, shards: Iterable[int]) -> None:
        """Stop the shards' loops (their Leases still renewed meanwhile), then give the Leases up."""
        releasing = frozenset(shard for shard in shards if shard in self._held)
        if not releasing:
            return
        self._active -= releasing
        await self._stop_loops(self._in(releasing), RELEASE_GRACE_SECONDS)
        await asyncio.gather(*(self._give_up(shard) for shard in sorted(releasing)))

    async def _give_up(self, shard: int) -> None:
        async with self._lock(shard):
            held = self._held.pop(shard, None)
            if held is None:
                return
            self._report(shard, False)
            name = shard_lease_name(shard)
            lease = held.lease
            for attempt in range(2):
                body = {**lease, "spec": released_spec(dict(lease.get("spec") or {}), _now())}
                try:
                    written = await _within(
                        self.api.replace(LEASES, self.namespace, name, body), self.timings.renew_deadline
                    )
                except ConflictError:
                    # a renewal cancelled in flight still reached the API server: release its result
                    current = await self._read(name)
                    if attempt == 0 and current and _holder(current) == self.identity:
                        lease = current
                        continue
                    return
                except (KubeError, TimeoutError) as error:  # it expires on its own after the lease duration
                    logger.warning("cannot release shard %d: %s", shard, str(error) or "timed out")
                    return
                self._observe(written)
                logger.info("Released shard %d (Lease %s/%s)", shard, self.namespace, name)
                return

    async def _read(self, name: str) -> dict[str, Any] | None:
        try:
            return await _within(self.api.get(LEASES, self.namespace, name), self.timings.retry_period)
        except (KubeError, TimeoutError) as error:
            logger.warning("cannot read Lease %s/%s: %s", self.namespace, name, str(error) or "timed out")
            return None

    async def _forget_dead_members(self, leases: Collection[ListedLease]) -> None:
        """Delete membership Leases of replicas gone for long (a SIGKILLed pod never deletes its own)."""
        now = self._monotonic()
        for lease in leases:
            observed = self._observed.get(lease.name)
            if (
                not lease.name.startswith(REPLICA_PREFIX)
                or lease.name == self.member_lease_name
                or observed is None
                or now < observed[1] + DEAD_MEMBER_AFTER_LEASES * self.timings.lease_duration
            ):
                continue
            version = (lease.body.get("metadata") or {}).get("resourceVersion")
            with contextlib.suppress(KubeError, TimeoutError):
                await _within(
                    self.api.request(
                        "DELETE",
                        LEASES.path(self.namespace, lease.name),
                        body={
                            "apiVersion": "v1",
                            "kind": "DeleteOptions",
                            "preconditions": {"resourceVersion": version},
                        },
                    ),
                    self.timings.retry_period,
                )
                logger.info("Deleted the membership Lease %s of a replica gone since long", lease.name)
            self._observed.pop(lease.name, None)

    # --- leaving -----------------------------------------------------------------------------------

    async def _leave(self, renewing: asyncio.Task[None]) -> None:
        """Shutdown: loops first (the Leases still renewed), then the Leases, then the membership."""
        held = frozenset(self._held)
        self._active.clear()
        try:
            await self._stop_loops(self._in(held), RELEASE_GRACE_SECONDS)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, *self._losing, return_exceptions=True)
            await asyncio.gather(*(self._give_up(shard) for shard in sorted(self._held)))
            if self._member is not None:
                with contextlib.suppress(KubeError, TimeoutError):
                    await _within(
                        self.api.request("DELETE", LEASES.path(self.namespace, self.member_lease_name)),
                        self.timings.renew_deadline,
                    )
                self._member = None
            self._log_holdings()

    # --- helpers -----------------------------------------------------------------------------------

    def _in(self, shards: frozenset[int]) -> CanaryFilter:
        return lambda namespace, name: shard_of(namespace, name, self.shards) in shards

    def _lock(self, shard: int) -> asyncio.Lock:
        return self._locks.setdefault(shard, asyncio.Lock())

    def _log_holdings(self) -> None:
        holdings = (tuple(sorted(self._held)), self._members)
        if holdings != self._holdings_logged:
            self._holdings_logged = holdings
            logger.info(
                "Holding shards [%s] of %d (%d replicas)", _listing(holdings[0]), self.shards, self._members
            )


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """`asyncio.wait_for`, except that a cancellation arriving as the awaitable completes is never lost
    (Python 3.11's `wait_for` may swallow it, and a shutdown would then wait forever)."""
    async with asyncio.timeout(seconds):
        return await awaitable


def _holder(lease: dict[str, Any]) -> str:
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _listing(shards: Iterable[int]) -> str:
    return ", ".join(str(shard) for shard in sorted(shards))


def _now() -> datetime:
    return datetime.now(UTC)
