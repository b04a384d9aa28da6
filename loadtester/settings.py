"""The load tester's settings: Flagger's flags (single- or double-dash) plus environment variables.

Flagger parses its flags with Go's `flag` package, so the charts and the kustomize base pass
`-port=8080 -log-level=info -timeout=1h -namespace-regexp=...`. Those exact command lines must keep
working, and so must the `--port 8080` form people type. Every flag can also come from an environment
variable (`LOADTESTER_<NAME>`); a flag on the command line wins over the environment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from goconv.durations import DurationError, parse_duration
from goconv.flags import FlagError, split_flags
from goconv.flags import HelpRequested as HelpRequested
from loadtester.errors import LoadtesterError

VERSION = "0.38.0"
DEFAULT_PORT = 9090
MAX_BODY_BYTES = 1024 * 1024

# Flagger's -log-level values; anything else silently means info (as in Flagger), `warning` is our fix.
LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "fatal": "fatal",
    "panic": "panic",
}


class SettingsError(LoadtesterError, ValueError):
    """A flag or environment value that cannot be used; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    host: str = ""  # empty = all interfaces, like Go's ":<port>"
    timeout: float = 3600.0  # seconds; the deadline of every task
    log_level: str = "debug"
    log_level_given: str = "debug"  # the value as given, for the "unknown level" warning
    namespace_regexp: re.Pattern[str] | None = None
    zap_encoding: str = "json"
    zap_replace_globals: bool = False
    auth_token: str = ""  # empty = no authentication (Flagger's behaviour)
    gates_configmap: str = ""  # "<namespace>/<name>": share gates between replicas; empty = in memory
    grace_period: float = 60.0  # seconds in-flight requests get on SIGTERM (Flagger: 1 minute)
    runner_tick: float = 0.1  # seconds between background-runner passes (Flagger: 100 ms)
    max_body_bytes: int = MAX_BODY_BYTES

    @property
    def namespace_pattern(self) -> str:
        return self.namespace_regexp.pattern if self.namespace_regexp is not None else ""


@dataclasses.dataclass(frozen=True)
class _Flag:
    name: str
    field: str
    convert: Callable[[str], Any]
    help: str
    is_bool: bool = False

    @property
    def env(self) -> str:
        return "LOADTESTER_" + self.name.upper().replace("-", "_")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise SettingsError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"invalid port {text!r}: out of range")
    return port


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except DurationError as error:
        raise SettingsError(str(error)) from None
    if seconds <= 0:
        raise SettingsError(f"duration {text!r} must be positive")
    return seconds


def _regexp(text: str) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise SettingsError(f"invalid -namespace-regexp {text!r}: {error}") from None


def _encoding(text: str) -> str:
    if text not in ("json", "console"):
        raise SettingsError(f"invalid -zap-encoding {text!r}: want json or console")
    return text


def _log_format(text: str) -> str:
    mapping = {"json": "json", "text": "console", "console": "console"}
    if text not in mapping:
        raise SettingsError(f"invalid --log-format {text!r}: want json or text")
    return mapping[text]


def _configmap_reference(text: str) -> str:
    namespace, slash, name = text.partition("/")
    if text and not (slash and namespace and name and "/" not in name):
        raise SettingsError(f"invalid --gates-configmap {text!r}: want <namespace>/<name>")
    return text


def _go_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise SettingsError(f"invalid boolean value {text!r}")


FLAGS = (
    _Flag("port", "port", _port, "port to listen on (default 9090)"),
    _Flag("host", "host", str, "address to listen on (default: all interfaces)"),
    _Flag("timeout", "timeout", _duration, "deadline of every command, Go duration (default 1h)"),
    _Flag("log-level", "log_level_given", str, "debug, info, warn|warning, error, fatal, panic"),
    _Flag("namespace-regexp", "namespace_regexp", _regexp, "only namespaces matching this regexp"),
    _Flag("zap-encoding", "zap_encoding", _encoding, "log encoding: json or console"),
    _Flag("log-format", "zap_encoding", _log_format, "log format: json or text (alias of -zap-encoding)"),
    _Flag("zap-replace-globals", "zap_replace_globals", _go_bool, "accepted for compatibility", True),
    _Flag("auth-token", "auth_token", str, "require 'Authorization: Bearer <token>' (default: off)"),
    _Flag(
        "gates-configmap",
        "gates_configmap",
        _configmap_reference,
        "keep gates in this ConfigMap, <namespace>/<name>, shared by replicas (default: in memory)",
    ),
    _Flag("grace-period", "grace_period", _duration, "SIGTERM grace for in-flight requests (default 1m)"),
)
_BY_NAME = {flag.name: flag for flag in FLAGS}


def usage() -> str:
    lines = ["usage: flagman loadtester [flags]", ""]
    for flag in FLAGS:
        lines.append(f"  -{flag.name}  {flag.help}  (env {flag.env})")
    return "\n".join(lines)


_BOOL_FLAGS = frozenset(flag.name for flag in FLAGS if flag.is_bool)


def _split_flags(argv: Sequence[str]) -> dict[str, str]:
    """Go `flag` rules: `-name=v`, `-name v`, `--name=v`, `--name v`; bools take only the `=` form."""
    try:
        return split_flags(argv, known=_BY_NAME, bool_flags=_BOOL_FLAGS)
    except FlagError as error:
        raise SettingsError(str(error)) from None


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Build the settings from the command line and the environment; raise SettingsError on bad input."""
    given = _split_flags(argv)
    values: dict[str, Any] = {}
    for flag in FLAGS:
        if flag.name in given:
            raw = given[flag.name]
        elif flag.env in environ:
            raw = environ[flag.env]
        else:
            continue
        values[flag.field] = flag.convert(raw)
    if "log_level_given" in values:
        values["log_level"] = LOG_LEVELS.get(values["log_level_given"], "info")
    return Settings(**values)
