"""An in-memory :class:`controller.rollout.history.HistoryStore` and a harness that records history."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from controller.api import CanaryRef
from controller.errors import KubeError
from controller.rollout import advance
from controller.rollout.history import DEFAULT_RUNS_KEPT, HistoryBook, with_history
from tests.controller.rollout.fakes import Harness, World


class MemoryHistoryStore:
    """Saved documents by ``name.namespace``, round-tripped through JSON as the ConfigMap does."""

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}
        self.saves = 0
        self.loads = 0
        self.fail = ""

    async def load(self, ref: CanaryRef) -> Mapping[str, Any] | None:
        self.loads += 1
        if self.fail:
            raise KubeError(self.fail)
        text = self.saved.get(ref.key)
        return None if text is None else json.loads(text)

    async def save(self, ref: CanaryRef, document: Mapping[str, Any]) -> None:
        if self.fail:
            raise KubeError(self.fail)
        self.saves += 1
        self.saved[ref.key] = json.dumps(document)

    def document(self, key: str = "podinfo.default") -> dict[str, Any]:
        return copy.deepcopy(json.loads(self.saved[key]))


class HistoryHarness(Harness):
    """:class:`Harness` whose ports note history; each tick ends with the scheduler's flush."""

    def __init__(
        self, world: World, store: MemoryHistoryStore, *, runs_kept: int = DEFAULT_RUNS_KEPT
    ) -> None:
        super().__init__(world)
        self.store = store
        self.book = HistoryBook(store, self.clock, runs_kept=runs_kept)
        self.recorded = with_history(self.ports, self.book)

    async def tick(self, seconds: float = 30.0) -> Any:
        outcome = await advance(self.ref, self.recorded, self.settings, self.memory)
        await self.book.flush(self.ref)
        self.clock.advance(seconds)
        return outcome.canary
