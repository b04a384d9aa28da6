"""The status port: the Canary from the watch cache, and `status` written through the status subresource.

Writes are a PUT of `/status` carrying the cached object's resourceVersion, so a concurrent change is a
409 instead of a lost update; on conflict the Canary is read again and the write retried (Flagger's
`RetryOnConflict`). The response goes back into the cache, so the next tick sees its own write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.api import CanaryRef, CanaryStatus
from controller.errors import ConflictError, KubeError
from controller.kube.api import CANARIES
from controller.kube.cluster import Cluster
from controller.kube.objects import deep_copy

logger = logging.getLogger(__name__)

STATUS_CONFLICT_RETRIES = 5


TIMESTAMP_FIELDS = ("lastTransitionTime", "lastUpdateTime")


def without_empty_timestamps(status: Mapping[str, Any]) -> dict[str, Any]:
    """The CRD types these fields `date-time`, so the API server rejects `""`; an unset time is omitted."""
    cleaned = {key: value for key, value in status.items() if not (key in TIMESTAMP_FIELDS and value == "")}
    if isinstance(cleaned.get("conditions"), list):
        cleaned["conditions"] = [
            {key: value for key, value in condition.items() if not (key in TIMESTAMP_FIELDS and value == "")}
            if isinstance(condition, Mapping)
            else condition
            for condition in cleaned["conditions"]
        ]
    return cleaned


class KubeStatusStore:
    """Implements `controller.rollout.ports.StatusStore`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def get(self, ref: CanaryRef) -> Mapping[str, Any]:
        cached = self.cluster.canaries.get(ref.namespace, ref.name)
        if cached is not None:
            return cached
        fetched = await self.cluster.api.get(CANARIES, ref.namespace, ref.name)  # raises NotFoundError
        self.cluster.canaries.remember(fetched)
        return fetched

    async def write(self, ref: CanaryRef, status: CanaryStatus) -> None:
        await self.write_status(ref, without_empty_timestamps(status.to_dict()))

    async def write_status(self, ref: CanaryRef, status: Mapping[str, Any]) -> None:
        """Replace `status` with `status` (a JSON map)."""
        current: Mapping[str, Any] = await self.get(ref)
        for attempt in range(STATUS_CONFLICT_RETRIES):
            body = deep_copy(dict(current))
            body["status"] = deep_copy(dict(status))
            try:
                written = await self.cluster.api.replace_status(CANARIES, ref.namespace, ref.name, body)
            except ConflictError:
                if attempt == STATUS_CONFLICT_RETRIES - 1:
                    raise KubeError(
                        f"canary {ref.key} status update failed: still conflicting after"
                        f" {STATUS_CONFLICT_RETRIES} attempts"
                    ) from None
                current = await self.cluster.api.get(CANARIES, ref.namespace, ref.name)
                self.cluster.canaries.remember(dict(current))
                continue
            except KubeError as error:
                raise KubeError(f"canary {ref.key} status update failed: {error}") from error
            self.cluster.canaries.remember(written)
            return

    async def set_finalizer(self, ref: CanaryRef, finalizer: str, *, present: bool) -> None:
        """A PUT of the Canary with its resourceVersion, so another writer's finalizers are never lost
        (a 409 reads the Canary again, as Flagger's `RetryOnConflict`)."""
        current: Mapping[str, Any] = await self.get(ref)
        for attempt in range(STATUS_CONFLICT_RETRIES):
            body = deep_copy(dict(current))
            meta = body.setdefault("metadata", {})
            finalizers = [item for item in meta.get("finalizers") or [] if item != finalizer]
            if present:
                finalizers.append(finalizer)
            if finalizers == list(meta.get("finalizers") or []):
                return
            meta["finalizers"] = finalizers
            try:
                written = await self.cluster.api.replace(CANARIES, ref.namespace, ref.name, body)
            except ConflictError:
                if attempt == STATUS_CONFLICT_RETRIES - 1:
                    raise KubeError(f"canary {ref.key} update failed: still conflicting") from None
                current = await self.cluster.api.get(CANARIES, ref.namespace, ref.name)
                continue
            except KubeError as error:
                raise KubeError(f"canary {ref.key} update failed: {error}") from error
            self.cluster.canaries.remember(written)
            logger.info(
                "finalizer %s %s", finalizer, "added" if present else "removed", extra={"canary": ref.key}
            )
            return
