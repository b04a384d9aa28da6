"""klog's command-line flags, accepted as Flagger accepts them.

Flagger's `main.go` calls `klog.InitFlags(nil)`, so manifests written for it may pass `-v=2`,
`-logtostderr`, `-vmodule=...` and the rest; Flagger then routes klog (client-go's logger) into zap, so
they change almost nothing there. Flagman has no klog: the flags are parsed and validated with klog's
own rules (a bad value is still an error, as in Go) and otherwise have no effect; `-log-level` sets
the verbosity. The values are kept in `Settings.klog` for `python -m controller.settings`.
"""

from __future__ import annotations

import re
from typing import Final

from goconv.flags import Converter, Flag, FlagTable, bool_value

KLOG_ATTRIBUTE_PREFIX: Final = "klog:"
_SEVERITIES: Final = ("INFO", "WARNING", "ERROR", "FATAL")
_VMODULE_ITEM: Final = re.compile(r"^[^=]+=\d+$")
_TRACE_LOCATION: Final = re.compile(r"^[^:]+\.go:\d+$")


def _level(text: str) -> str:
    """klog.Level: strconv.ParseInt(value, 10, 32)."""
    if not re.fullmatch(r"[+-]?\d+", text.strip()) or not -(2**31) <= int(text) < 2**31:
        raise ValueError("parse error")
    return str(int(text))


def _vmodule(text: str) -> str:
    """moduleSpec: comma-separated `pattern=N`."""
    for item in text.split(","):
        if item and not _VMODULE_ITEM.match(item):
            raise ValueError("syntax error: expect comma-separated list of filename=N")
    return text


def _severity(text: str) -> str:
    """severityValue: a name (any case) or its number 0-3."""
    if text.upper() in _SEVERITIES:
        return text.upper()
    if text.isdigit() and int(text) < len(_SEVERITIES):
        return _SEVERITIES[int(text)]
    raise ValueError(f"unknown severity {text!r}")


def _trace_location(text: str) -> str:
    """traceLocation: empty or `file.go:N`."""
    if text and not _TRACE_LOCATION.match(text):
        raise ValueError("syntax error: expect file.go:234")
    return text


def _uint(text: str) -> str:
    if not text.strip().isdigit():
        raise ValueError("parse error")
    return str(int(text))


def _boolean(text: str) -> str:
    return "true" if bool_value(text) else "false"


def _flag(name: str, convert: Converter, *, boolean: bool = False) -> Flag:
    return Flag(
        name,
        convert,
        help="klog flag: accepted, no effect",
        attribute=KLOG_ATTRIBUTE_PREFIX + name,
        boolean=boolean,
    )


KLOG_FLAGS: Final = (
    _flag("v", _level),
    _flag("vmodule", _vmodule),
    _flag("logtostderr", _boolean, boolean=True),
    _flag("alsologtostderr", _boolean, boolean=True),
    _flag("stderrthreshold", _severity),
    _flag("legacy_stderr_threshold_behavior", _boolean, boolean=True),
    _flag("log_dir", str),
    _flag("log_file", str),
    _flag("log_file_max_size", _uint),
    _flag("log_backtrace_at", _trace_location),
    _flag("add_dir_header", _boolean, boolean=True),
    _flag("skip_headers", _boolean, boolean=True),
    _flag("skip_log_headers", _boolean, boolean=True),
    _flag("one_output", _boolean, boolean=True),
)

# No environment fallback: these exist for command lines written for Flagger.
KLOG_TABLE: Final = FlagTable(KLOG_FLAGS)


def klog_usage() -> str:
    return "  klog's flags, accepted for Flagger's manifests (no effect): " + ", ".join(
        f"-{flag.name}" for flag in KLOG_FLAGS
    )
