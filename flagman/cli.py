"""`flagman <command> [args]`: a thin dispatcher.

Each deployable owns its command line (`<package>.cli:main(argv) -> int`); this module only picks one,
importing it lazily so `flagman loadtester` never pays for the controller's imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "loadtester": ("loadtester.cli", "run the webhook runner (Flagger load tester compatible)"),
    "controller": ("controller.cli", "run the Blue/Green controller (Flagger compatible)"),
    "sandbox": ("sandbox.cli", "the local Kubernetes stand-in: apiserver, up, down, status"),
    "demo": ("sandbox.demo", "run the Blue/Green tutorial end to end on the local sandbox"),
    "report": ("dashboard.report_cli", "write the HTML/SVG report of a Canary's analysis run"),
    "dashboard": ("dashboard.dashboard_cli", "serve a live web dashboard of the Canaries on 127.0.0.1"),
}


def usage() -> str:
    lines = ["usage: flagman <command> [args]", "", "commands:"]
    lines += [f"  {name:<12} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"flagman: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # The images carry only their own deployable (images/*/Dockerfile): say so instead of a traceback.
        if error.name != module_name.split(".", 1)[0]:
            raise
        print(
            f"flagman: {command!r} is not part of this installation (an image carries one part)",
            file=sys.stderr,
        )
        return 2
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":
    sys.exit(main())
