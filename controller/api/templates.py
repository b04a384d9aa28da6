"""``MetricTemplate`` and ``AlertProvider`` custom resources (``flagger.app/v1beta1``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.api.canary import API_VERSION, CanaryRef
from controller.api.fields import FieldReader, prune
from controller.errors import CanaryValidationError

METRIC_PROVIDER_TYPES = frozenset(
    {
        "prometheus",
        "influxdb",
        "datadog",
        "externalmetrics",
        "stackdriver",
        "cloudwatch",
        "newrelic",
        "graphite",
        "dynatrace",
        "keptn",
        "splunk",
    }
)
ALERT_PROVIDER_TYPES = frozenset({"slack", "msteams", "discord", "rocket", "gchat"})


@dataclass(frozen=True)
class MetricProvider:
    """``MetricTemplate.spec.provider``. ``headers`` maps a header name to its values (Go http.Header)."""

    type: str
    address: str = ""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    secret_name: str = ""
    region: str = ""
    insecure_skip_verify: bool = False

    def to_dict(self) -> dict[str, Any]:
        return prune(
            {
                "type": self.type,
                "address": self.address or None,
                "headers": {key: list(values) for key, values in self.headers.items()},
                "secretRef": {"name": self.secret_name} if self.secret_name else None,
                "region": self.region or None,
                "insecureSkipVerify": self.insecure_skip_verify or None,
            }
        )


@dataclass(frozen=True)
class MetricTemplate:
    """A parsed MetricTemplate; ``query`` is a Go text/template rendered per metric check."""

    ref: CanaryRef
    provider: MetricProvider
    query: str

    @property
    def key(self) -> str:
        return self.ref.key

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> MetricTemplate:
        problems: list[str] = []
        if not isinstance(body, Mapping):
            raise CanaryValidationError(["metrictemplate: must be an object"])
        spec = FieldReader(body.get("spec"), "spec", problems)
        provider_reader = spec.child("provider")
        provider_type = provider_reader.string("type")
        if not provider_type:
            provider_reader.problem("type", "is required")
        elif provider_type not in METRIC_PROVIDER_TYPES:
            provider_reader.problem(
                "type", f"must be one of {', '.join(sorted(METRIC_PROVIDER_TYPES))}, got {provider_type!r}"
            )
        headers: dict[str, tuple[str, ...]] = {}
        for header, values in provider_reader.raw_map("headers").items():
            if isinstance(values, str):
                headers[str(header)] = (values,)
            elif isinstance(values, list) and all(isinstance(value, str) for value in values):
                headers[str(header)] = tuple(values)
            else:
                provider_reader.problem(f"headers.{header}", "must be a list of strings")
        query = spec.string("query")
        if not query:
            spec.problem("query", "is required")
        if problems:
            raise CanaryValidationError(problems)
        return cls(
            ref=CanaryRef.from_body(body),
            provider=MetricProvider(
                type=provider_type,
                address=provider_reader.string("address"),
                headers=headers,
                secret_name=provider_reader.child("secretRef").string("name"),
                region=provider_reader.string("region"),
                insecure_skip_verify=provider_reader.boolean("insecureSkipVerify"),
            ),
            query=query,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "MetricTemplate",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace},
            "spec": {"provider": self.provider.to_dict(), "query": self.query},
        }


@dataclass(frozen=True)
class AlertProvider:
    """A parsed AlertProvider (chat notifier target). The secret's ``address`` key overrides ``address``."""

    ref: CanaryRef
    type: str
    channel: str = "general"
    username: str = "flagger"
    address: str = ""
    proxy: str = ""
    secret_name: str = ""

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> AlertProvider:
        problems: list[str] = []
        if not isinstance(body, Mapping):
            raise CanaryValidationError(["alertprovider: must be an object"])
        spec = FieldReader(body.get("spec"), "spec", problems)
        provider_type = spec.string("type")
        if provider_type not in ALERT_PROVIDER_TYPES:
            spec.problem(
                "type", f"must be one of {', '.join(sorted(ALERT_PROVIDER_TYPES))}, got {provider_type!r}"
            )
        address = spec.string("address")
        secret_name = spec.child("secretRef").string("name")
        if not address and not secret_name:
            spec.problem("", "needs either address or secretRef")
        if problems:
            raise CanaryValidationError(problems)
        return cls(
            ref=CanaryRef.from_body(body),
            type=provider_type,
            channel=spec.string("channel") or "general",
            username=spec.string("username") or "flagger",
            address=address,
            proxy=spec.string("proxy"),
            secret_name=secret_name,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "AlertProvider",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace},
            "spec": prune(
                {
                    "type": self.type,
                    "channel": self.channel,
                    "username": self.username,
                    "address": self.address or None,
                    "proxy": self.proxy or None,
                    "secretRef": {"name": self.secret_name} if self.secret_name else None,
                }
            ),
        }
