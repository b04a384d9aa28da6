"""The controller's settings: Flagger's command-line flags and environment, parsed once into a frozen object.

Flagger is a Go program using the standard `flag` package, and every deployable that starts it (its Helm
chart, its kustomize bases, users' own manifests) passes Go-style flags: `-mesh-provider=kubernetes`,
`-log-level info`, `--metrics-server=http://prometheus:9090`, bare `-enable-leader-election`. This module
accepts exactly those command lines so Flagger's manifests run Flagman unchanged.

Precedence for every value, highest first:

1. the environment variables Flagger itself lets win over flags when non-empty (`SLACK_URL`,
   `SLACK_TOKEN`, `SLACK_PROXY_URL`, `MSTEAMS_URL`, `MSTEAMS_PROXY_URL`, `EVENT_WEBHOOK_URL`);
2. the command line;
3. `FLAGMAN_<FLAG_NAME>` (for example `FLAGMAN_METRICS_SERVER`), a fallback for every flag;
4. the default.

Where Go's `flag` package is silently lenient, this parser is strict and says why: an unknown flag, a
stray positional argument (Go stops parsing there and ignores the rest, so `-enable-leader-election false`
would quietly mean *true*), a malformed number, duration or boolean, or an unsupported mesh provider is a
`SettingsError` naming the flag and the bad value.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from controller.errors import FlagmanError
from controller.klog_flags import KLOG_ATTRIBUTE_PREFIX, KLOG_FLAGS, KLOG_TABLE, klog_usage
from goconv.flags import (
    Flag,
    FlagError,
    FlagTable,
    UnexpectedArgumentError,
    UnknownFlagError,
    bool_value,
    duration_value,
    float_value,
    int_value,
    list_value,
)
from goconv.flags import HelpRequested as HelpRequested


class SettingsError(FlagmanError, ValueError):
    """A flag or environment value the controller cannot start with; the message names the culprit."""


# Flagger's providers, to tell "a Flagger provider Flagman does not implement" from a typo.
FLAGGER_MESH_PROVIDERS: Final = frozenset(
    {
        "apisix",
        "appmesh",
        "appmesh:v1beta2",
        "contour",
        "gatewayapi",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "gloo",
        "istio",
        "knative",
        "kubernetes",
        "kuma",
        "linkerd",
        "nginx",
        "osm",
        "skipper",
        "smi",
        "smi:v1alpha1",
        "smi:v1alpha2",
        "smi:v1alpha3",
        "supergloo",
        "traefik",
    }
)
SUPPORTED_MESH_PROVIDERS: Final = frozenset({"kubernetes"})

MAX_SHARDS: Final = 1024  # one Lease renewal per shard per retry period: keep the API traffic bounded

# Flagger's zap levels, plus the `warning` its help text advertises.
LOG_LEVELS: Final = ("debug", "info", "warn", "warning", "error", "fatal", "panic")
ZAP_ENCODINGS: Final = ("json", "console")


@dataclass(frozen=True)
class Settings:
    """Everything the controller is configured with; one field per Flagger flag, named after it.

    Durations are float seconds. Comma-separated list flags are tuples with blanks removed.
    """

    kubeconfig: str = ""
    master: str = ""
    kubeconfig_qps: int = 100
    kubeconfig_burst: int = 250
    kubeconfig_service_mesh: str = ""
    metrics_server: str = "http://prometheus:9090"
    control_loop_interval: float = 10.0
    log_level: str = "debug"
    zap_encoding: str = "json"
    zap_replace_globals: bool = False
    port: int = 8080
    # Flagger's binary defaults to istio; Flagman implements only the kubernetes provider, so that is
    # the default (Flagger's chart renders no flag at all when `meshProvider` is empty).
    mesh_provider: str = "kubernetes"
    selector_labels: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")
    include_label_prefix: tuple[str, ...] = ()
    enable_config_tracking: bool = True
    namespace: str = ""
    threadiness: int = 2
    enable_leader_election: bool = False
    leader_election_namespace: str = "kube-system"
    slack_url: str = ""
    slack_token: str = ""
    slack_proxy_url: str = ""
    slack_channel: str = ""
    slack_user: str = "flagger"
    msteams_url: str = ""
    msteams_proxy_url: str = ""
    event_webhook: str = ""
    cluster_name: str = ""
    no_cross_namespace_refs: bool = False
    ingress_annotations_prefix: str = "nginx.ingress.kubernetes.io"
    ingress_class: str = ""
    version: bool = False
    # Flagman only: the shortest analysis interval honoured. Flagger hard-codes 10s; tests and the
    # sandbox demo lower it to run whole rollouts in seconds.
    min_analysis_interval: float = 10.0
    # Flagman only: the address the /metrics, /healthz and /readyz server binds (empty: all interfaces).
    # The sandbox runs controller pods on their own loopback IP, as a pod network would.
    listen_address: str = ""
    # Flagman only: analysis runs kept per Canary in its `flagman-history-{name}` ConfigMap (0: none).
    analysis_history_runs: int = 10
    # Flagman only: a history that only gained points is saved at most this often (phase changes at once);
    # the dashboard's plots are this far behind at worst. Each save rewrites the whole ConfigMap.
    analysis_history_save_interval: float = 10.0
    # Flagman only: several replicas split the Canaries over `shards` shard Leases (controller.sharding).
    enable_sharding: bool = False
    shards: int = 16
    shard_lease_duration: float = 15.0
    shard_renew_deadline: float = 10.0
    shard_retry_period: float = 2.0
    # klog's flags as given (`v` -> "2"): accepted for Flagger's manifests, no effect (controller.klog_flags).
    klog: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def leader_election_lease_namespace(self) -> str:
        """Where the leader-election Lease lives: `-namespace` when set, as in Flagger."""
        return self.namespace or self.leader_election_namespace

    @property
    def log_format(self) -> str:
        """`json` (JSON lines, the default) or `text` (zap's `console` encoding)."""
        return "text" if self.zap_encoding == "console" else "json"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for `python -m controller.settings` and the shim tests."""
        return {
            field.name: list(value) if isinstance(value, tuple) else value
            for field, value in ((f, getattr(self, f.name)) for f in dataclasses.fields(self))
        }


# --- the flag table ------------------------------------------------------------------------------------


def _qps(text: str) -> int:
    """`-kubeconfig-qps` is a float32 in newer Flagger; keep the integer part of a whole number."""
    value = float_value(text)
    if value != int(value):
        raise ValueError("must be a whole number")
    return int(value)


_HOSTNAME: Final = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _listen_address(text: str) -> str:
    """An IP address or host name without a port (the port is `-port`); empty means all interfaces."""
    address = text.strip()
    if not address:
        return ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    if not _HOSTNAME.match(address):
        raise ValueError("expected an IP address or host name without a port (the port is -port)")
    return address


ENV_FALLBACK_PREFIX: Final = "FLAGMAN_"
# Flagman's own spelling for humans (`--log-format text`), folded into zap's encoding.
_LOG_FORMAT_FLAG: Final = "log-format"
_LOG_FORMATS: Final = {"json": "json", "text": "console"}

FLAGS: Final = FlagTable(
    (
        Flag("kubeconfig"),
        Flag("master"),
        Flag("kubeconfig-qps", _qps),
        Flag("kubeconfig-burst", int_value),
        Flag("kubeconfig-service-mesh"),
        Flag("metrics-server"),
        Flag("control-loop-interval", duration_value),
        Flag("log-level"),
        Flag("zap-encoding"),
        Flag("zap-replace-globals", bool_value, boolean=True),
        Flag("port", int_value),
        Flag("mesh-provider"),
        Flag("selector-labels", list_value),
        Flag("include-label-prefix", list_value),
        Flag("enable-config-tracking", bool_value, boolean=True),
        Flag("namespace"),
        Flag("threadiness", int_value),
        Flag("enable-leader-election", bool_value, boolean=True),
        Flag("leader-election-namespace"),
        Flag("slack-url"),
        Flag("slack-token"),
        Flag("slack-proxy-url"),
        Flag("slack-channel"),
        Flag("slack-user"),
        Flag("msteams-url"),
        Flag("msteams-proxy-url"),
        Flag("event-webhook"),
        Flag("cluster-name"),
        Flag("no-cross-namespace-refs", bool_value, boolean=True),
        Flag("ingress-annotations-prefix"),
        Flag("ingress-class"),
        Flag("version", bool_value, boolean=True),
        Flag("min-analysis-interval", duration_value),
        Flag("listen-address", _listen_address),
        Flag("analysis-history-runs", int_value),
        Flag("analysis-history-save-interval", duration_value),
        Flag("enable-sharding", bool_value, boolean=True),
        Flag("shards", int_value),
        Flag("shard-lease-duration", duration_value),
        Flag("shard-renew-deadline", duration_value),
        Flag("shard-retry-period", duration_value),
    ),
    env_prefix=ENV_FALLBACK_PREFIX,
    extra=frozenset({_LOG_FORMAT_FLAG}),
)

# Splitting knows klog's flags too (bare klog booleans must not swallow the next argument).
_COMMAND_LINE: Final = FlagTable(FLAGS.flags + KLOG_FLAGS, extra=FLAGS.extra)

# Flagger lets these environment variables override the flags when they are non-empty.
ENV_OVERRIDES: Final = {
    "slack_url": "SLACK_URL",
    "slack_token": "SLACK_TOKEN",
    "slack_proxy_url": "SLACK_PROXY_URL",
    "msteams_url": "MSTEAMS_URL",
    "msteams_proxy_url": "MSTEAMS_PROXY_URL",
    "event_webhook": "EVENT_WEBHOOK_URL",
}


def env_fallback_name(flag_name: str) -> str:
    """`metrics-server` -> `FLAGMAN_METRICS_SERVER`."""
    return FLAGS.env_name(flag_name)


def usage() -> str:
    return (
        FLAGS.usage(
            "usage: flagman controller [flags]  (Flagger's flags; one or two leading dashes)", Settings()
        )
        + f"\n  -{_LOG_FORMAT_FLAG}=json|text  (alias of -zap-encoding=json|console)\n"
        + klog_usage()
    )


def _command_line(argv: Sequence[str]) -> dict[str, str]:
    """Go flag syntax -> {flag name: raw value}, with the controller's wording for what is wrong."""
    try:
        return _COMMAND_LINE.split(argv)
    except UnknownFlagError as error:
        raise SettingsError(f"{error}\n\n{usage()}") from None
    except UnexpectedArgumentError as error:
        raise SettingsError(f"{error}: the controller takes flags only") from None
    except FlagError as error:
        raise SettingsError(str(error)) from None


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Build the controller's settings from a command line (without the program name) and environment.

    Raises `HelpRequested` for `-h`/`--help` and `SettingsError` for anything it cannot use.
    """
    command_line = _command_line(argv)
    try:
        values = FLAGS.values(command_line, environ)
        klog = KLOG_TABLE.values(command_line, {})
    except FlagError as error:
        raise SettingsError(str(error)) from None
    log_format = command_line.get(_LOG_FORMAT_FLAG) or environ.get(env_fallback_name(_LOG_FORMAT_FLAG))
    if log_format is not None:
        if log_format not in _LOG_FORMATS:
            raise SettingsError(f"invalid value {log_format!r} for flag -log-format: use json or text")
        if "zap-encoding" not in command_line:
            values["zap_encoding"] = _LOG_FORMATS[log_format]
    for field_name, variable in ENV_OVERRIDES.items():
        if environ.get(variable):
            values[field_name] = environ[variable]
    values["klog"] = {key.removeprefix(KLOG_ATTRIBUTE_PREFIX): value for key, value in klog.items()}
    settings = Settings(**values)
    validate(settings)
    return settings


def _require_http_url(flag: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"invalid URL {url!r} for -{flag}: expected http(s)://host[:port][/path]")


def validate(settings: Settings) -> None:
    """Reject values the controller cannot run with, naming the flag."""
    if settings.mesh_provider not in SUPPORTED_MESH_PROVIDERS:
        if settings.mesh_provider in FLAGGER_MESH_PROVIDERS:
            raise SettingsError(
                f"mesh provider {settings.mesh_provider!r} is a Flagger provider that Flagman does not"
                " implement; Flagman supports -mesh-provider=kubernetes (Blue/Green over ClusterIP services)"
            )
        raise SettingsError(f"unknown mesh provider {settings.mesh_provider!r} for -mesh-provider")
    if settings.log_level not in LOG_LEVELS:
        raise SettingsError(f"invalid -log-level {settings.log_level!r}: use one of {', '.join(LOG_LEVELS)}")
    if settings.zap_encoding not in ZAP_ENCODINGS:
        raise SettingsError(f"invalid -zap-encoding {settings.zap_encoding!r}: use json or console")
    if not 0 < settings.port < 65536:
        raise SettingsError(f"invalid -port {settings.port}: must be between 1 and 65535")
    if settings.threadiness < 1:
        raise SettingsError(f"invalid -threadiness {settings.threadiness}: must be at least 1")
    if settings.kubeconfig_qps <= 0 or settings.kubeconfig_burst <= 0:
        raise SettingsError("-kubeconfig-qps and -kubeconfig-burst must be positive")
    if settings.control_loop_interval <= 0:
        raise SettingsError("-control-loop-interval must be a positive duration")
    if settings.analysis_history_runs < 0:
        raise SettingsError(
            f"invalid -analysis-history-runs {settings.analysis_history_runs}: must be 0 (no history) or more"
        )
    if settings.analysis_history_save_interval < 0:
        raise SettingsError("-analysis-history-save-interval must not be negative")
    if settings.min_analysis_interval <= 0:
        raise SettingsError("-min-analysis-interval must be a positive duration")
    if not 1 <= settings.shards <= MAX_SHARDS:
        raise SettingsError(f"invalid -shards {settings.shards}: must be between 1 and {MAX_SHARDS}")
    if settings.enable_sharding and settings.enable_leader_election:
        raise SettingsError(
            "-enable-sharding and -enable-leader-election exclude each other: with sharding every replica"
            " acts, each on its own shards of the Canaries"
        )
    if not settings.selector_labels:
        raise SettingsError("-selector-labels needs at least one label")
    if settings.metrics_server:
        _require_http_url("metrics-server", settings.metrics_server)
    for flag, url in (
        ("slack-url", settings.slack_url),
        ("msteams-url", settings.msteams_url),
        ("event-webhook", settings.event_webhook),
    ):
        if url:
            _require_http_url(flag, url)
    # Flagger's docs write proxies as `my-http-proxy.com:3128`; a scheme-less proxy means http:// (alerts/).
    for flag, url in (
        ("slack-proxy-url", settings.slack_proxy_url),
        ("msteams-proxy-url", settings.msteams_proxy_url),
    ):
        if url and "://" in url:
            _require_http_url(flag, url)


def parse_command_line(argv: Sequence[str] | None, environ: Mapping[str, str] | None) -> Settings | int:
    """`parse_settings` for an entry point (None: the process's own argv or environment): `-h` prints
    the usage (exit code 0), a bad flag its error on stderr (exit code 2)."""
    try:
        return parse_settings(
            sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ
        )
    except HelpRequested:
        print(usage())
        return 0
    except SettingsError as error:
        print(f"flagman controller: {error}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`python -m controller.settings [flags]`: print the settings the controller would start with."""
    settings = parse_command_line(argv, environ)
    if isinstance(settings, int):
        return settings
    print(json.dumps(settings.to_dict(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
