"""The load tester's exceptions share one root, so a caller can catch "anything the load tester refused"
without naming each kind. Each module raises its own subclass; library errors are translated once, where
they occur (json in `payload`, Kubernetes in `gates_kube`, flags in `settings`)."""

from __future__ import annotations


class LoadtesterError(Exception):
    """Root of the load tester's own errors."""
