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
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from controller.api.durations import parse_duration
from controller.errors import FlagmanError
from goconv.flags import FlagError, UnexpectedArgumentError, UnknownFlagError, split_flags
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


# --- value converters: one per Go flag type -------------------------------------------------------

_GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _parse_bool(flag: str, raw: str) -> bool:
    """Go's strconv.ParseBool spellings, nothing else."""
    if raw in _GO_TRUE:
        return True
    if raw in _GO_FALSE:
        return False
    raise SettingsError(f"invalid boolean value {raw!r} for flag -{flag}: use true or false")


def _parse_int(flag: str, raw: str) -> int:
    """Go's flag.Int accepts base prefixes (0x, 0o, 0b) and underscores, like Python's int(x, 0)."""
    try:
        return int(raw.strip(), 0)
    except ValueError:
        raise SettingsError(f"invalid integer value {raw!r} for flag -{flag}") from None


def _parse_float_qps(flag: str, raw: str) -> int:
    """`-kubeconfig-qps` is a float32 in newer Flagger; keep the integer part of a whole number."""
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"invalid number {raw!r} for flag -{flag}") from None
    if value != int(value):
        raise SettingsError(f"invalid value {raw!r} for flag -{flag}: must be a whole number")
    return int(value)


def _parse_go_duration(flag: str, raw: str) -> float:
    try:
        return parse_duration(raw)
    except ValueError as error:
        raise SettingsError(f"invalid duration {raw!r} for flag -{flag}: {error}") from None


def _parse_list(flag: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _parse_str(flag: str, raw: str) -> str:
    return raw


_HOSTNAME: Final = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _parse_listen_address(flag: str, raw: str) -> str:
    """An IP address or host name without a port (the port is `-port`); empty means all interfaces."""
    address = raw.strip()
    if not address:
        return ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    if not _HOSTNAME.match(address):
        raise SettingsError(
            f"invalid value {raw!r} for flag -{flag}: expected an IP address or host name without a port"
            " (the port is -port)"
        )
    return address


@dataclass(frozen=True)
class _Flag:
    name: str
    field: str
    convert: Callable[[str, str], Any]
    is_bool: bool = False


def _flag(name: str, convert: Callable[[str, str], Any] = _parse_str) -> _Flag:
    return _Flag(name, name.replace("-", "_"), convert, is_bool=convert is _parse_bool)


FLAGS: Final[dict[str, _Flag]] = {
    flag.name: flag
    for flag in (
        _flag("kubeconfig"),
        _flag("master"),
        _flag("kubeconfig-qps", _parse_float_qps),
        _flag("kubeconfig-burst", _parse_int),
        _flag("kubeconfig-service-mesh"),
        _flag("metrics-server"),
        _flag("control-loop-interval", _parse_go_duration),
        _flag("log-level"),
        _flag("zap-encoding"),
        _flag("zap-replace-globals", _parse_bool),
        _flag("port", _parse_int),
        _flag("mesh-provider"),
        _flag("selector-labels", _parse_list),
        _flag("include-label-prefix", _parse_list),
        _flag("enable-config-tracking", _parse_bool),
        _flag("namespace"),
        _flag("threadiness", _parse_int),
        _flag("enable-leader-election", _parse_bool),
        _flag("leader-election-namespace"),
        _flag("slack-url"),
        _flag("slack-token"),
        _flag("slack-proxy-url"),
        _flag("slack-channel"),
        _flag("slack-user"),
        _flag("msteams-url"),
        _flag("msteams-proxy-url"),
        _flag("event-webhook"),
        _flag("cluster-name"),
        _flag("no-cross-namespace-refs", _parse_bool),
        _flag("ingress-annotations-prefix"),
        _flag("ingress-class"),
        _flag("version", _parse_bool),
        _flag("min-analysis-interval", _parse_go_duration),
        _flag("listen-address", _parse_listen_address),
    )
}

# Flagman's own spelling for humans (`--log-format text`), folded into zap's encoding.
_LOG_FORMAT_FLAG: Final = "log-format"
_LOG_FORMATS: Final = {"json": "json", "text": "console"}

# Flagger lets these environment variables override the flags when they are non-empty.
ENV_OVERRIDES: Final = {
    "slack_url": "SLACK_URL",
    "slack_token": "SLACK_TOKEN",
    "slack_proxy_url": "SLACK_PROXY_URL",
    "msteams_url": "MSTEAMS_URL",
    "msteams_proxy_url": "MSTEAMS_PROXY_URL",
    "event_webhook": "EVENT_WEBHOOK_URL",
}
ENV_FALLBACK_PREFIX: Final = "FLAGMAN_"


def env_fallback_name(flag_name: str) -> str:
    """`metrics-server` -> `FLAGMAN_METRICS_SERVER`."""
    return ENV_FALLBACK_PREFIX + flag_name.upper().replace("-", "_")


def usage() -> str:
    lines = ["usage: flagman controller [flags]  (Flagger's flags; one or two leading dashes)", ""]
    defaults = Settings()
    for flag in FLAGS.values():
        default = getattr(defaults, flag.field)
        shown = ",".join(default) if isinstance(default, tuple) else default
        lines.append(f"  -{flag.name}={shown}    (env {env_fallback_name(flag.name)})")
    lines.append(f"  -{_LOG_FORMAT_FLAG}=json|text    (alias of -zap-encoding=json|console)")
    return "\n".join(lines)


_BOOL_FLAGS: Final = frozenset(flag.name for flag in FLAGS.values() if flag.is_bool)


def _split_command_line(argv: Sequence[str]) -> dict[str, str]:
    """Go flag syntax -> {flag name: raw value}, with the controller's wording for what is wrong."""
    try:
        return split_flags(argv, known={*FLAGS, _LOG_FORMAT_FLAG}, bool_flags=_BOOL_FLAGS)
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
    command_line = _split_command_line(argv)
    values: dict[str, Any] = {}
    for flag in FLAGS.values():
        raw = command_line.get(flag.name)
        if raw is None:
            raw = environ.get(env_fallback_name(flag.name))
        if raw is not None:
            values[flag.field] = flag.convert(flag.name, raw)
    log_format = command_line.get(_LOG_FORMAT_FLAG) or environ.get(env_fallback_name(_LOG_FORMAT_FLAG))
    if log_format is not None:
        if log_format not in _LOG_FORMATS:
            raise SettingsError(f"invalid value {log_format!r} for flag -log-format: use json or text")
        if "zap-encoding" not in command_line:
            values["zap_encoding"] = _LOG_FORMATS[log_format]
    for field_name, variable in ENV_OVERRIDES.items():
        if environ.get(variable):
            values[field_name] = environ[variable]
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
    if settings.min_analysis_interval <= 0:
        raise SettingsError("-min-analysis-interval must be a positive duration")
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


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`python -m controller.settings [flags]`: print the settings the controller would start with."""
    import os

    try:
        settings = parse_settings(
            sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ
        )
    except HelpRequested:
        print(usage())
        return 0
    except SettingsError as error:
        print(f"flagman controller: {error}", file=sys.stderr)
        return 2
    print(json.dumps(settings.to_dict(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
