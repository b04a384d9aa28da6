"""The analysis history store: one ConfigMap per Canary, ``flagman-history-{name}``, owned by the Canary.

Implements :class:`controller.rollout.history.HistoryStore`. A history is read once per Canary and
controller start (one GET; the ConfigMap cache keeps only the ConfigMaps Canaries track, not these
documents of up to ~100 KiB each); a save is one merge patch of ``data``, or one create the first
time. Garbage collection removes the ConfigMap with its Canary (ownerReference, not a controller
reference: the ConfigMap is a record, not a managed workload).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from controller.api import CanaryRef
from controller.errors import KubeError, NotFoundError
from controller.kube.api import CONFIGMAPS, KubeApi
from controller.kube.objects import CanaryOwner, JsonDict, owner_reference
from controller.kube.watchcache import WatchCache

logger = logging.getLogger(__name__)

HISTORY_PREFIX = "flagman-history-"
HISTORY_KEY = "history.json"
HISTORY_LABEL = "flagman.app/analysis-history"
MAX_NAME = 253


def history_configmap_name(canary_name: str) -> str:
    """``flagman-history-{name}``; a name too long for an object name is cut and given a hash suffix."""
    name = HISTORY_PREFIX + canary_name
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(canary_name.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - 11]}-{digest}"


class KubeHistoryStore:
    """Implements ``controller.rollout.history.HistoryStore`` on ConfigMaps."""

    def __init__(self, api: KubeApi, configmaps: WatchCache | None = None) -> None:
        self._api = api
        self._cache = configmaps

    async def load(self, ref: CanaryRef) -> Mapping[str, Any] | None:
        name = history_configmap_name(ref.name)
        if self._cache is not None:  # a selective cache does not keep histories: read once per Canary
            configmap = await self._cache.fetch(ref.namespace, name, keep=False)
        else:
            try:
                configmap = await self._api.get(CONFIGMAPS, ref.namespace, name)
            except NotFoundError:
                return None
        if configmap is None:
            return None
        text = (configmap.get("data") or {}).get(HISTORY_KEY)
        if not text:
            return None
        try:
            document = json.loads(text)
        except ValueError as error:  # damaged by hand: start afresh rather than stop recording
            logger.warning(
                "configmap %s.%s: %s is not JSON (%s); starting afresh",
                name,
                ref.namespace,
                HISTORY_KEY,
                error,
            )
            return None
        return document if isinstance(document, dict) else None

    async def save(self, ref: CanaryRef, document: Mapping[str, Any]) -> None:
        name = history_configmap_name(ref.name)
        text = json.dumps(document, separators=(",", ":"), sort_keys=True)
        try:
            written = await self._api.merge_patch(
                CONFIGMAPS, ref.namespace, name, {"data": {HISTORY_KEY: text}}
            )
        except NotFoundError:
            written = await self._create(ref, name, text)
        except KubeError as error:
            raise KubeError(f"configmap {name}.{ref.namespace} update failed: {error}") from error
        if self._cache is not None:
            self._cache.remember(written)

    async def _create(self, ref: CanaryRef, name: str, text: str) -> JsonDict:
        metadata: JsonDict = {
            "name": name,
            "namespace": ref.namespace,
            "labels": {HISTORY_LABEL: "true", "app.kubernetes.io/managed-by": "flagman"},
        }
        if ref.uid:
            owner = CanaryOwner(ref.name, ref.namespace, ref.uid)
            metadata["ownerReferences"] = [owner_reference(owner, controller=False)]
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {HISTORY_KEY: text}}
        try:
            return await self._api.create(CONFIGMAPS, ref.namespace, body)
        except KubeError as error:
            raise KubeError(f"configmap {name}.{ref.namespace} create failed: {error}") from error
