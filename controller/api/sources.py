"""What the adapters read from Kubernetes, as small protocols over the typed views of this package.

`controller.kube.sources` implements them from the watch caches (with a GET on a miss); tests use
in-memory dictionaries. The metric analysis reads MetricTemplates and provider Secrets; alert routing
reads AlertProviders and their Secrets; two metric providers reach the API server itself
(`ClusterAccess`, implemented by `controller.kube.cluster_access`). Errors must be `controller.errors`
types whose text is Kubernetes' reason (`metrictemplates.flagger.app "x" not found`): the callers prefix
it with Flagger's wording (`Metric template x.test error: ...`, `alert provider on-call.test error: ...`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from controller.api.templates import AlertProvider, MetricTemplate


class TemplateSource(Protocol):
    async def get_template(self, namespace: str, name: str) -> MetricTemplate:
        """The parsed MetricTemplate; raises NotFoundError, KubeError or CanaryValidationError."""
        ...


class AlertProviderSource(Protocol):
    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        """The parsed AlertProvider; raises NotFoundError, KubeError or CanaryValidationError."""
        ...


class SecretSource(Protocol):
    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        """The Secret's `data`, base64-decoded to text (`stringData` too); raises NotFoundError or
        KubeError."""
        ...


@dataclass(frozen=True)
class ClusterConnection:
    """Where the API server is and how to talk to it: host URL, auth headers, TLS settings."""

    host: str
    headers: Mapping[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None
    insecure: bool = False


class ClusterAccess(Protocol):
    """The API server as the ``keptn`` and ``externalmetrics`` metric providers reach it (Flagger's
    rest.Config); `controller.kube.cluster_access` implements it from the controller's own client."""

    async def connection(self) -> ClusterConnection:
        """The API server's address and current credentials."""
        ...
