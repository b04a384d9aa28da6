"""Exit codes and the plugin's one exception type."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``kubectl flagman`` returns (documented in docs/release-control.md)."""

    OK = 0
    ERROR = 1  # API error, Canary not found, request ignored by the controller
    USAGE = 2  # bad flags or arguments (argparse's own code)
    FAILED = 3  # status --watch: the release failed
    TIMEOUT = 4  # --timeout reached before the release or the request ended


class PluginError(Exception):
    """A failure to report on stderr as ``error: <text>`` with its exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.code = code


class ConflictError(PluginError):
    """The Canary changed between reading it and writing to it (409): reading it again may succeed."""
