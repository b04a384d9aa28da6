"""client-go's back-off for a reflector that cannot list: 0.8 s, doubling up to 30 s, with jitter.

(`k8s.io/client-go/tools/cache/reflector.go`: `NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)`;
the jitter stretches each delay by up to 100 % so that many clients do not retry in step.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.8
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 1.0

    def delays(self) -> Iterator[float]:
        """Endless delays in seconds: ``initial``, then times ``factor`` up to ``cap``, each plus jitter."""
        delay = self.initial
        while True:
            yield delay * (1.0 + random.random() * self.jitter)
            delay = min(delay * self.factor, self.cap)
