"""Leader election over a `coordination.k8s.io/v1` Lease, as Flagger does with client-go's LeaseLock.

With `-enable-leader-election`, every replica starts its caches and its /healthz /readyz /metrics server,
then competes for the Lease `flagger-leader-election`; only the holder runs the operator. The holder renews
the Lease every retry period; when it cannot renew for a whole renew deadline it has lost the leadership and
the process exits non-zero (Flagger: `os.Exit(1)`), so Kubernetes restarts it as a follower. On SIGTERM the
holder stops the operator first and then releases the Lease (empty `holderIdentity`), so a follower takes
over at its next retry instead of waiting out the lease duration (client-go's `ReleaseOnCancel`).

The algorithm is client-go's `tryAcquireOrRenew`: a candidate measures the lease duration from the moment
*it* last saw the Lease record change, on its own monotonic clock, so clock skew between nodes does not
matter; writes are `PUT`s carrying the `resourceVersion` that was read, so two candidates cannot both win.

Why not `kubernetes_asyncio.leaderelection`: it rejects timings under one second (the tests use
sub-second ones), cannot release the Lease, writes local naive times with a `Z` suffix, and lets
connection errors escape its loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.api.durations import parse_duration
from controller.errors import DurationError, KubeError, NotFoundError
from controller.kube.api import KubeApi, Resource

logger = logging.getLogger("controller.leader")

LEASES = Resource("coordination.k8s.io/v1", "leases", "Lease")
LEASE_NAME = "flagger-leader-election"
# client-go waits retryPeriod * (1 + rand * 1.2) between attempts to acquire.
JITTER_FACTOR = 1.2

# Hidden knobs (Go durations) for tests and impatient clusters; Flagger hard-codes 60s/15s/5s.
LEASE_DURATION_VARIABLE = "FLAGMAN_LEADER_ELECTION_LEASE_DURATION"
RENEW_DEADLINE_VARIABLE = "FLAGMAN_LEADER_ELECTION_RENEW_DEADLINE"
RETRY_PERIOD_VARIABLE = "FLAGMAN_LEADER_ELECTION_RETRY_PERIOD"


class LeaseTimingsError(ValueError):
    """Leader-election timings the elector cannot work with; the message names the variable."""


@dataclass(frozen=True)
class LeaseTimings:
    """Seconds. A follower takes over `lease_duration` after the Lease stopped changing; the leader gives
    up after failing to renew for `renew_deadline`; both retry every `retry_period`."""

    lease_duration: float = 60.0
    renew_deadline: float = 15.0
    retry_period: float = 5.0

    def __post_init__(self) -> None:
        # client-go's own checks: the leader must give up before a follower may take over.
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise LeaseTimingsError("leader-election timings must be positive")
        if self.lease_duration <= self.renew_deadline:
            raise LeaseTimingsError(
                f"leader-election lease duration ({self.lease_duration:g}s) must be greater than"
                f" the renew deadline ({self.renew_deadline:g}s)"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise LeaseTimingsError(
                f"leader-election renew deadline ({self.renew_deadline:g}s) must be greater than"
                f" {JITTER_FACTOR:g} x the retry period ({self.retry_period:g}s)"
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LeaseTimings:
        """Flagger's timings, each overridable by a `FLAGMAN_LEADER_ELECTION_*` Go duration."""
        values: dict[str, float] = {}
        for field_name, variable in (
            ("lease_duration", LEASE_DURATION_VARIABLE),
            ("renew_deadline", RENEW_DEADLINE_VARIABLE),
            ("retry_period", RETRY_PERIOD_VARIABLE),
        ):
            raw = environ.get(variable)
            if raw:
                try:
                    values[field_name] = parse_duration(raw)
                except DurationError as error:
                    raise LeaseTimingsError(f"invalid {variable}={raw!r}: {error}") from error
        return cls(**values)

    @property
    def stop_grace(self) -> float:
        """How long a leader that lost the Lease may spend stopping: a follower cannot have taken over
        before the lease duration has passed since the last renewal it may have seen."""
        return max(0.0, self.lease_duration - self.renew_deadline - self.retry_period)


def candidate_identity() -> str:
    """`<hostname>_<uuid>`, as Flagger: unique even when a restarted pod keeps its name."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def _micro_time(moment: datetime) -> str:
    """Kubernetes `MicroTime`: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeadershipLost(Exception):
    """The leader could not renew the Lease within the renew deadline."""


class LeaseElector:
    """One candidate for the Lease `namespace/LEASE_NAME`."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        identity: str,
        timings: LeaseTimings,
        *,
        name: str = LEASE_NAME,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timings = timings
        self._monotonic = monotonic
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._reported_leader = ""
        self._lease: dict[str, Any] | None = None  # the Lease as last written by this candidate
        self.last_renewal = 0.0

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: create the Lease, take it over once it expired or was released, or renew it."""
        now = datetime.now(UTC)
        try:
            lease = await self.api.get(LEASES, self.namespace, self.name)
        except NotFoundError:
            return await self._create(now)
        except KubeError as error:
            logger.warning("cannot read Lease %s/%s: %s", self.namespace, self.name, error)
            return False
        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = spec, self._monotonic()
        holder = str(spec.get("holderIdentity") or "")
        self._report_leader(holder)
        held_by_another = bool(holder) and holder != self.identity
        if held_by_another and self._monotonic() < self._observed_at + self.timings.lease_duration:
            self._lease = None
            return False
        renewing = holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, math.ceil(self.timings.lease_duration)),
            acquireTime=spec.get("acquireTime") if renewing else _micro_time(now),
            renewTime=_micro_time(now),
            leaseTransitions=transitions if renewing else transitions + 1,
        )
        try:
            written = await self.api.replace(LEASES, self.namespace, self.name, {**lease, "spec": spec})
        except KubeError as error:  # a conflict means another candidate wrote first
            logger.debug("cannot update Lease %s/%s: %s", self.namespace, self.name, error)
            return False
        self._remember(written)
        return True

    async def _create(self, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, math.ceil(self.timings.lease_duration)),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            created = await self.api.create(LEASES, self.namespace, body)
        except KubeError as error:
            logger.warning("cannot create Lease %s/%s: %s", self.namespace, self.name, error)
            return False
        self._remember(created)
        return True

    def _remember(self, lease: dict[str, Any]) -> None:
        self._lease = lease
        self._observed_spec, self._observed_at = dict(lease.get("spec") or {}), self._monotonic()
        self.last_renewal = self._observed_at
        self._report_leader(self.identity)

    def _report_leader(self, holder: str) -> None:
        if holder and holder != self._reported_leader:
            self._reported_leader = holder
            if holder != self.identity:
                logger.info("Another instance has been elected as leader: %s", holder)

    async def acquire(self) -> None:
        """Return once this candidate holds the Lease (retrying with client-go's jitter)."""
        while not await self._attempt(self.timings.renew_deadline):
            jitter = 1 + random.random() * JITTER_FACTOR  # spreads retries, not a secret
            await asyncio.sleep(self.timings.retry_period * jitter)

    async def keep_renewing(self) -> None:
        """Renew every retry period; raise `LeadershipLost` once a renew deadline passed without success."""
        while True:
            await asyncio.sleep(self.timings.retry_period)
            while True:
                remaining = self.last_renewal + self.timings.renew_deadline - self._monotonic()
                if remaining <= 0:
                    self._lease = None
                    raise LeadershipLost(
                        f"could not renew Lease {self.namespace}/{self.name} for"
                        f" {self.timings.renew_deadline:g}s"
                    )
                if await self._attempt(remaining):
                    break
                await asyncio.sleep(min(self.timings.retry_period, remaining))

    async def _attempt(self, within: float) -> bool:
        """One try, never longer than `within`: a hung request must not outlive the renew deadline."""
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation of this task
            async with asyncio.timeout(within):
                return await self.try_acquire_or_renew()
        except TimeoutError:
            logger.warning("Lease %s/%s: the API server did not answer in time", self.namespace, self.name)
            return False

    async def release(self) -> None:
        """Give the Lease up (client-go's release): empty holder, so followers need not wait it out."""
        lease, self._lease = self._lease, None
        if lease is None:
            return
        now = _micro_time(datetime.now(UTC))
        spec = {
            **(lease.get("spec") or {}),
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
        }
        try:
            async with asyncio.timeout(self.timings.renew_deadline):
                await self.api.replace(LEASES, self.namespace, self.name, {**lease, "spec": spec})
        except (KubeError, TimeoutError) as error:  # it expires on its own after the lease duration
            logger.warning("cannot release Lease %s/%s: %s", self.namespace, self.name, error)
            return
        logger.info("Released Lease %s/%s", self.namespace, self.name)


async def lead(elector: LeaseElector, operate: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Follow until elected, then `operate()` while renewing; return the process exit code.

    SIGTERM/SIGINT are handled here while following and while releasing; while `operate` runs,
    the operator installs its own handlers and returns on a signal, which ends the leadership the same way. A
    lost Lease cancels `operate` at once: another replica is about to act. Exit codes: 0 after a shutdown
    (the Lease released), 1 when the leadership was lost (as Flagger: Kubernetes restarts the pod, which
    then follows).
    """
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def own_signals() -> None:
        for signum in signals:
            loop.add_signal_handler(signum, shutdown.set)

    own_signals()
    try:
        logger.info(
            "Starting leader election id: %s lease: %s namespace: %s",
            elector.identity,
            elector.name,
            elector.namespace,
        )
        if not await _first(elector.acquire(), shutdown.wait()):
            logger.info("shutting down before being elected")
            await elector.release()  # in case the shutdown interrupted a successful attempt
            return 0
        logger.info("Acting as elected leader")
        operating = asyncio.create_task(operate(), name="operator")
        renewing = asyncio.create_task(elector.keep_renewing(), name="lease-renewal")
        stopping = asyncio.create_task(shutdown.wait(), name="shutdown")
        try:
            await asyncio.wait({operating, renewing, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if renewing.done() and isinstance(renewing.exception(), LeadershipLost):
                logger.error(
                    "Leadership lost: %s; stopping the operator and exiting so the pod restarts as a"
                    " follower",
                    renewing.exception(),
                )
                operating.cancel()
                await _stop_within(operating, elector.timings.stop_grace)
                return 1
            # Our signal handler fired before the operator installed its own: stop it ourselves.
            operating.cancel()
            await asyncio.wait({operating})  # keep renewing until the operator has stopped acting
        finally:
            for task in (renewing, stopping):
                task.cancel()
            await asyncio.gather(renewing, stopping, return_exceptions=True)
        own_signals()  # the operator replaced the handlers; a second signal must not interrupt the release
        await elector.release()
        if not operating.cancelled():
            operating.result()  # an operator crash still fails the process, after the release
        return 0
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _first(wanted: Awaitable[None], cancel_when: Awaitable[Any]) -> bool:
    """Await `wanted` unless `cancel_when` completes first; True when `wanted` finished."""
    wanted_task = asyncio.ensure_future(wanted)
    other = asyncio.ensure_future(cancel_when)
    try:
        await asyncio.wait({wanted_task, other}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (wanted_task, other):
            if not task.done():
                task.cancel()
        await asyncio.gather(wanted_task, other, return_exceptions=True)
    if wanted_task.done() and not wanted_task.cancelled():
        wanted_task.result()
        return True
    return False


async def _stop_within(operating: asyncio.Task[None], seconds: float) -> None:
    """Wait for the operator to stop; past `seconds` another replica may already act, so leave at once."""
    done, _ = await asyncio.wait({operating}, timeout=seconds)
    if not done:
        logger.error("the operator did not stop within %.1fs of losing the Lease: exiting now", seconds)
        logging.shutdown()
        os._exit(1)
    with contextlib.suppress(Exception, asyncio.CancelledError):
        operating.result()  # whatever the operator raised while being cancelled, the exit code is 1
