"""What alert routing reads from Kubernetes, as two small protocols (implemented over the API in
`kube_source.py` and by the analysis' `CachedSecrets`; in-memory dictionaries in tests).

Errors must be `controller.errors` types whose text is Kubernetes' reason
(`alertproviders.flagger.app "on-call" not found`); routing prefixes it with Flagger's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from controller.api.templates import AlertProvider


class AlertProviderSource(Protocol):
    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        """The parsed AlertProvider; raises NotFoundError, KubeError or CanaryValidationError."""
        ...


class SecretSource(Protocol):
    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        """The Secret's `data`, base64-decoded to text; raises NotFoundError or KubeError."""
        ...


@dataclass(frozen=True)
class AlertSources:
    providers: AlertProviderSource
    secrets: SecretSource
