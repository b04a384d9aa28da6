"""The load tester's settings: Flagger's flags (single- or double-dash) plus environment variables.

Flagger parses its flags with Go's `flag` package, so the charts and the kustomize base pass
`-port=8080 -log-level=info -timeout=1h -namespace-regexp=...`. Those exact command lines must keep
working, and so must the `--port 8080` form people type. Every flag can also come from an environment
variable (`LOADTESTER_<NAME>`); a flag on the command line wins over the environment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Final

from goconv.flags import Flag, FlagError, FlagTable, bool_value, duration_value
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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError("invalid port") from None
    if not 0 <= port <= 65535:
        raise ValueError("invalid port: out of range")
    return port


def _duration(text: str) -> float:
    seconds = duration_value(text)  # DurationError (a ValueError) carries Go's text
    if seconds <= 0:
        raise ValueError("the duration must be positive")
    return seconds


def _regexp(text: str) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise ValueError(f"invalid -namespace-regexp: {error}") from None


def _encoding(text: str) -> str:
    if text not in ("json", "console"):
        raise ValueError("invalid -zap-encoding: want json or console")
    return text


def _log_format(text: str) -> str:
    mapping = {"json": "json", "text": "console", "console": "console"}
    if text not in mapping:
        raise ValueError("invalid --log-format: want json or text")
    return mapping[text]


def _configmap_reference(text: str) -> str:
    namespace, slash, name = text.partition("/")
    if text and not (slash and namespace and name and "/" not in name):
        raise ValueError("invalid --gates-configmap: want <namespace>/<name>")
    return text


# Every flag also comes from LOADTESTER_<NAME>; a flag on the command line wins over the environment.
FLAGS: Final = FlagTable(
    (
        Flag("port", _port, "port to listen on (default 9090)"),
        Flag("host", str, "address to listen on (default: all interfaces)"),
        Flag("timeout", _duration, "deadline of every command, Go duration (default 1h)"),
        Flag("log-level", str, "debug, info, warn|warning, error, fatal, panic", "log_level_given"),
        Flag("namespace-regexp", _regexp, "only namespaces matching this regexp"),
        Flag("zap-encoding", _encoding, "log encoding: json or console"),
        Flag("log-format", _log_format, "log format: json or text (alias of -zap-encoding)", "zap_encoding"),
        Flag("zap-replace-globals", bool_value, "accepted for compatibility", boolean=True),
        Flag("auth-token", str, "require 'Authorization: Bearer <token>' (default: off)"),
        Flag(
            "gates-configmap",
            _configmap_reference,
            "keep gates in this ConfigMap, <namespace>/<name>, shared by replicas (default: in memory)",
        ),
        Flag("grace-period", _duration, "SIGTERM grace for in-flight requests (default 1m)"),
    ),
    env_prefix="LOADTESTER_",
)


def usage() -> str:
    return FLAGS.usage("usage: flagman loadtester [flags]")


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Build the settings from the command line and the environment; raise SettingsError on bad input
    (Go's wording: `invalid value "x" for flag -port: invalid port`), HelpRequested for -h."""
    try:
        values = FLAGS.values(FLAGS.split(argv), environ)
    except FlagError as error:
        raise SettingsError(str(error)) from None
    if "log_level_given" in values:
        values["log_level"] = LOG_LEVELS.get(values["log_level_given"], "info")
    return Settings(**values)
