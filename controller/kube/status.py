"""The status port: the Canary from the watch cache, and `status` written through the status subresource.

Writes are a JSON merge patch of `/status` carrying the cached object's resourceVersion as a precondition,
so a concurrent change is a 409 instead of a lost update, as with Flagger's `UpdateStatus`; on conflict the
Canary is read again and the write retried (Flagger's `RetryOnConflict`). The patch holds only what changed
(removed fields as null), so a steady tick sends a few hundred bytes and nothing is copied. The response
goes back into the cache, so the next tick sees its own write. A write that changes the phase is reported
to `on_phase_written` (the recorder: the events of that tick bypass its event budget).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
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

    def __init__(
        self, cluster: Cluster, on_phase_written: Callable[[CanaryRef], Awaitable[None]] | None = None
    ) -> None:
        self.cluster = cluster
        self._on_phase_written = on_phase_written

    async def get(self, ref: CanaryRef) -> Mapping[str, Any]:
        cached = self.cluster.canaries.get(ref.namespace, ref.name)
        if cached is not None:
            return cached
        fetched = await self.cluster.api.get(CANARIES, ref.namespace, ref.name)  # raises NotFoundError
        self.cluster.canaries.remember(fetched)
        return fetched

    async def write(self, ref: CanaryRef, status: CanaryStatus) -> None:
        before = ((await self.get(ref)).get("status") or {}).get("phase") or ""
        await self.write_status(ref, without_empty_timestamps(status.to_dict()))
        if self._on_phase_written is not None and str(status.phase) != before:
            await self._on_phase_written(ref)

    async def write_status(self, ref: CanaryRef, status: Mapping[str, Any]) -> None:
        """Replace `status` with `status` (a JSON map)."""
        current: Mapping[str, Any] = await self.get(ref)
        for attempt in range(STATUS_CONFLICT_RETRIES):
            meta = current.get("metadata") or {}
            patch = {
                "metadata": {"resourceVersion": meta.get("resourceVersion")},
                "status": merge_patch(current.get("status"), status),
            }
            try:
                written = await self.cluster.api.merge_patch(
                    CANARIES, ref.namespace, ref.name, patch, subresource="status"
                )
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


def merge_patch(current: Any, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `current` into `desired`: changed keys, removed ones as
    null, maps recursively; lists and scalars are replaced whole, as the RFC says."""
    old: Mapping[str, Any] = current if isinstance(current, Mapping) else {}
    patch: dict[str, Any] = {key: None for key in old if key not in desired}
    for key, value in desired.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value or value is None:
            patch[key] = value if not isinstance(value, Mapping) else merge_patch(None, value)
    return patch
