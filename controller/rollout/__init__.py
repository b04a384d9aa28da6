"""The Blue/Green state machine: one tick (:func:`advance`) of one canary, acting through ports.

Imports no Kubernetes or HTTP library; see :mod:`controller.rollout.ports` for the interfaces.
"""

from controller.rollout.tick import RolloutSettings, TickMemory, TickOutcome, advance

__all__ = ["RolloutSettings", "TickMemory", "TickOutcome", "advance"]
