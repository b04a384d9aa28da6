"""Posting core/v1 Events as kubelet and kube-controller-manager do, so `kubectl describe` tells the story."""

from __future__ import annotations

import logging

from sandbox.runtime.kube import EVENTS, Kube, KubeError, Obj
from sandbox.runtime.objects import random_suffix, timestamp

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, kube: Kube, component: str) -> None:
        self.kube = kube
        self.component = component

    async def record(self, involved: Obj, event_type: str, reason: str, message: str) -> None:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        stamp = timestamp()
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{random_suffix(10)}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", ""),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": self.component},
            "reportingComponent": self.component,
        }
        try:
            await self.kube.create(EVENTS, namespace, event)
        except KubeError as exc:
            log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)
