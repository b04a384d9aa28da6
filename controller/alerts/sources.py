"""Where alert routing reads AlertProviders and their Secrets from (the protocols live in
`controller.api.sources`; `controller.kube.sources` implements them; in-memory dictionaries in tests)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.sources import AlertProviderSource, SecretSource

__all__ = ["AlertProviderSource", "AlertSources", "SecretSource"]


@dataclass(frozen=True)
class AlertSources:
    providers: AlertProviderSource
    secrets: SecretSource
