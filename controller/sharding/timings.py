"""How long a shard Lease lasts, and how soon its holder must renew it (client-go's defaults: 15s/10s/2s)."""

from __future__ import annotations

from dataclasses import dataclass

JITTER_FACTOR = 1.2  # client-go: renew deadline > 1.2 x retry period


class ShardTimingsError(ValueError):
    """Timings the coordinator cannot keep its promise with; the message names the flags."""


@dataclass(frozen=True)
class ShardTimings:
    """Seconds. Another replica takes a shard over `lease_duration` after its Lease stopped changing; the
    holder stops that shard's loops once it failed to renew for `renew_deadline`, and must have stopped
    them `retry_period` before the lease duration is up (a margin for scheduling and clock rates)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise ShardTimingsError(
                "-shard-lease-duration, -shard-renew-deadline, -shard-retry-period must be positive"
            )
        if self.lease_duration <= self.renew_deadline + self.retry_period:
            raise ShardTimingsError(
                f"-shard-lease-duration ({self.lease_duration:g}s) must be greater than -shard-renew-deadline"
                f" ({self.renew_deadline:g}s) plus -shard-retry-period ({self.retry_period:g}s): a replica"
                " that lost a shard needs that time to stop its canaries before another may start them"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ShardTimingsError(
                f"-shard-renew-deadline ({self.renew_deadline:g}s) must be greater than {JITTER_FACTOR:g} x"
                f" -shard-retry-period ({self.retry_period:g}s)"
            )

    @property
    def stop_budget(self) -> float:
        """Seconds between noticing a lost shard (renew deadline) and the moment another replica may act."""
        return self.lease_duration - self.renew_deadline - self.retry_period
