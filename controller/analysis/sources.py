"""What the analysis reads from Kubernetes, as two small protocols.

The operator implements them with kubernetes_asyncio (ideally from watch caches); tests use
in-memory dictionaries. Errors must be :mod:`controller.errors` types whose text is the
Kubernetes-style reason (``metrictemplates.flagger.app "x" not found``): the analysis prefixes it
with Flagger's wording (``Metric template x.test error: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from controller.api.templates import MetricTemplate


class TemplateSource(Protocol):
    async def get_template(self, namespace: str, name: str) -> MetricTemplate:
        """The parsed MetricTemplate; raises NotFoundError, KubeError or CanaryValidationError."""
        ...


class SecretSource(Protocol):
    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        """The Secret's ``data``, base64-decoded to text; raises NotFoundError or KubeError."""
        ...
