"""Canaries, AlertProviders and in-memory sources for the alert tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.api import Canary
from controller.api.templates import AlertProvider
from controller.errors import NotFoundError


def canary(
    *,
    alerts: list[dict[str, Any]] | None = None,
    name: str = "podinfo",
    namespace: str = "test",
    **analysis_overrides: Any,
) -> Canary:
    """The tutorial's Canary: Blue/Green, 10 iterations, threshold 2, deadline 60 s."""
    analysis: dict[str, Any] = {"interval": "1m", "threshold": 2, "iterations": 10}
    if alerts is not None:
        analysis["alerts"] = alerts
    analysis.update(analysis_overrides)
    return Canary.from_dict(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "progressDeadlineSeconds": 60,
                "service": {"port": 9898},
                "analysis": analysis,
            },
        }
    )


def provider_body(name: str, namespace: str = "test", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


class MemorySources:
    """`AlertProviderSource` and `SecretSource` over dictionaries keyed by (namespace, name)."""

    def __init__(self) -> None:
        self.providers: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.reads: list[tuple[str, str, str]] = []

    def add_provider(self, name: str, namespace: str = "test", **spec: Any) -> None:
        self.providers[(namespace, name)] = provider_body(name, namespace, **spec)

    async def get_alert_provider(self, namespace: str, name: str) -> AlertProvider:
        self.reads.append(("alertprovider", namespace, name))
        body = self.providers.get((namespace, name))
        if body is None:
            raise NotFoundError(f'alertproviders.flagger.app "{name}" not found')
        return AlertProvider.from_dict(body)

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        self.reads.append(("secret", namespace, name))
        secret = self.secrets.get((namespace, name))
        if secret is None:
            raise NotFoundError(f'secrets "{name}" not found')
        return secret
