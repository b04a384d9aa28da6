"""``kubectl flagman report|dashboard ...``: the plugin hands these two commands to this package."""

from __future__ import annotations

from collections.abc import Sequence

COMMANDS = ("report", "dashboard")
_VALUED_FLAGS = frozenset({"-n", "--namespace", "--kubeconfig", "--context"})


def command_of(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(command, the other arguments)`` when the plugin's command (its first positional argument,
    after kubectl's connection flags) is one of ours; else None."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in _VALUED_FLAGS:
            index += 2
            continue
        if token.startswith("-"):
            index += 1
            continue
        if token in COMMANDS:
            return token, [*argv[:index], *argv[index + 1 :]]
        return None
    return None


def main(command: str, argv: Sequence[str]) -> int:
    if command == "report":
        from dashboard import report_cli

        return report_cli.main(argv)
    from dashboard import dashboard_cli

    return dashboard_cli.main(argv)
