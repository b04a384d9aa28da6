"""Asynchronous deletion: the garbage collector (ownerReferences) and the namespace controller.

In a real cluster both run in kube-controller-manager, after the DELETE has answered; clients poll
or watch for the outcome. Here one task does both: it wakes on every deletion, and repeats passes
until nothing changes, so chains (Deployment -> ReplicaSet -> Pod) collapse in one wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .cluster import Cluster, DeleteOptions
from .errors import ApiError
from .patches import clone_json
from .registry import ResourceType

log = logging.getLogger(__name__)


def _type_for(cluster: Cluster, storage: str) -> ResourceType | None:
    return cluster.registry.storage_types().get(storage)


def _delete(cluster: Cluster, storage: str, obj: dict[str, Any], propagation: str) -> None:
    rt = _type_for(cluster, storage)
    if rt is None:
        return
    metadata = obj["metadata"]
    with contextlib.suppress(ApiError):  # raced with another deletion
        cluster.delete(rt, metadata.get("namespace"), metadata["name"], DeleteOptions(propagation))


def _put(cluster: Cluster, storage: str, obj: dict[str, Any]) -> None:
    rt = _type_for(cluster, storage)
    if rt is not None:
        cluster._commit_update(rt, obj)


def collect_once(cluster: Cluster) -> bool:
    """One pass over the store; returns whether anything changed."""
    changed = False
    objects = list(cluster.store.all_objects())
    by_uid = {obj["metadata"].get("uid"): obj for _, obj in objects}
    dependents: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for storage, obj in objects:
        for ref in obj["metadata"].get("ownerReferences") or []:
            dependents.setdefault(ref.get("uid", ""), []).append((storage, obj))

    for storage, obj in objects:
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            continue
        owners = [by_uid.get(ref.get("uid")) for ref in refs]
        orphaning = [
            ref
            for ref, owner in zip(refs, owners, strict=True)
            if owner is not None
            and owner["metadata"].get("deletionTimestamp")
            and "orphan" in (owner["metadata"].get("finalizers") or [])
        ]
        if orphaning:
            updated = clone_json(obj)
            kept = [ref for ref in refs if ref not in orphaning]
            if kept:
                updated["metadata"]["ownerReferences"] = kept
            else:
                updated["metadata"].pop("ownerReferences")
            _put(cluster, storage, updated)
            changed = True
            continue
        if obj["metadata"].get("deletionTimestamp"):
            continue
        if all(owner is None for owner in owners):
            _delete(cluster, storage, obj, "Background")
            changed = True
            continue
        foreground = any(
            owner is not None
            and owner["metadata"].get("deletionTimestamp")
            and "foregroundDeletion" in (owner["metadata"].get("finalizers") or [])
            for owner in owners
        )
        if foreground:
            _delete(cluster, storage, obj, "Foreground")
            changed = True

    for storage, obj in objects:
        metadata = obj["metadata"]
        if not metadata.get("deletionTimestamp"):
            continue
        finalizers = list(metadata.get("finalizers") or [])
        remaining = [
            (s, d)
            for s, d in dependents.get(metadata.get("uid", ""), [])
            if cluster.store.get(s, d["metadata"].get("namespace", ""), d["metadata"]["name"]) is not None
        ]
        release = []
        if "orphan" in finalizers and not any(
            any(
                r.get("uid") == metadata.get("uid")
                for r in (
                    cluster.store.get(s, d["metadata"].get("namespace", ""), d["metadata"]["name"]) or {}
                )
                .get("metadata", {})
                .get("ownerReferences")
                or []
            )
            for s, d in remaining
        ):
            release.append("orphan")
        if "foregroundDeletion" in finalizers and not remaining:
            release.append("foregroundDeletion")
        if release:
            current = cluster.store.get(storage, metadata.get("namespace", ""), metadata["name"])
            if current is not None:
                updated = clone_json(current)
                updated["metadata"]["finalizers"] = [
                    f for f in current["metadata"].get("finalizers") or [] if f not in release
                ]
                if not updated["metadata"]["finalizers"]:
                    updated["metadata"].pop("finalizers")
                _put(cluster, storage, updated)
                changed = True

    changed |= _terminate_namespaces(cluster)
    return changed


def _terminate_namespaces(cluster: Cluster) -> bool:
    changed = False
    for namespace in list(cluster.store.items("/namespaces")):
        metadata = namespace["metadata"]
        if not metadata.get("deletionTimestamp"):
            continue
        name = metadata["name"]
        remaining = 0
        for storage, obj in list(cluster.store.all_objects()):
            if storage == "/namespaces" or obj["metadata"].get("namespace") != name:
                continue
            remaining += 1
            if not obj["metadata"].get("deletionTimestamp"):
                _delete(cluster, storage, obj, "Background")
                changed = True
        if remaining == 0 and (namespace.get("spec") or {}).get("finalizers"):
            updated = clone_json(namespace)
            updated["spec"]["finalizers"] = []
            _put(cluster, "/namespaces", updated)
            changed = True
    return changed


async def run_collector(cluster: Cluster) -> None:
    """Forever: wait for a deletion, then collect until the store is stable."""
    wakeup = cluster.gc_wakeup
    assert wakeup is not None
    while True:
        await wakeup.wait()
        wakeup.clear()
        await asyncio.sleep(0)  # let the DELETE answer first, like a real controller would
        try:
            for _ in range(100):
                if not collect_once(cluster):
                    break
        except Exception:  # never let one bad object stop the collector
            log.exception("garbage collection pass failed")
