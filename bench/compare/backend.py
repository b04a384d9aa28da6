"""What the comparison needs from an API server: where it is, which Flagger binary speaks to it, and the
count of requests a controller sent between two marks."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RequestCount:
    """Requests answered between two marks, by `verb resource`; long-running watches apart."""

    total: int
    by_verb: dict[str, int]
    watches: int


class Backend(Protocol):
    name: str
    flagger_binary: pathlib.Path

    @property
    def kubeconfig(self) -> str: ...

    def mark(self) -> int: ...

    def count(self, start: int, end: int, agent_prefixes: tuple[str, ...]) -> RequestCount: ...
