"""``kubectl flagman`` (the executable ``kubectl-flagman``): arguments in, one command, an exit code out."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from controller.api.requests import Action
from goconv.durations import DurationError, parse_duration
from kubectl_flagman import actions, follow, render
from kubectl_flagman.cluster import Cluster, Target
from kubectl_flagman.errors import ExitCode, PluginError

DEFAULT_WAIT = "60s"
DEFAULT_WATCH_TIMEOUT = "30m"

USAGE = """Release control for Flagman (and Flagger) Canaries.

Commands:
  get [NAME]            list Canaries (or one) with phase and iteration
  status NAME           phase, progress, metrics, webhooks, recent events (--watch to follow)
  promote NAME          finish the analysis of the current revision now and promote it
  abort NAME            roll the current revision back now
  retry NAME            re-run the analysis of the failed revision (no spec change needed)
  undo NAME             move all traffic back to the previous version kept warm after a promotion
  pause NAME            suspend the Canary (survives GitOps applies); resume NAME to continue
  report NAME           write the HTML/SVG report of the latest analysis run (docs/visibility.md)
  dashboard             serve a live web dashboard on 127.0.0.1 (--allow-actions for the buttons)

Exit codes: 0 ok, 1 error or request ignored, 2 usage, 3 release failed (status --watch), 4 timeout.
See docs/release-control.md."""


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _connection_flags() -> argparse.ArgumentParser:
    """kubectl's flags, accepted before or after the command (SUPPRESS: an unset flag stays unset)."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--kubeconfig", default=argparse.SUPPRESS, help="path to the kubeconfig file")
    flags.add_argument("--context", default=argparse.SUPPRESS, help="the kubeconfig context to use")
    flags.add_argument(
        "-n", "--namespace", default=argparse.SUPPRESS, help="the namespace (default: the context's)"
    )
    return flags


def build_parser() -> argparse.ArgumentParser:
    connection = _connection_flags()
    parser = argparse.ArgumentParser(
        prog="kubectl flagman",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, *aliases: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, aliases=list(aliases), parents=[connection])

    get = command("get", "list Canaries, or show one", "list")
    get.add_argument("name", nargs="?", help="a Canary name (all Canaries when omitted)")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="Canaries of every namespace")
    get.add_argument("-o", "--output", choices=("json", "yaml"), help="print the objects instead of a table")

    status = command("status", "show a Canary's release, or follow it with --watch")
    status.add_argument("name")
    status.add_argument(
        "-w", "--watch", action="store_true", help="follow until Succeeded (exit 0) or Failed (exit 3)"
    )
    status.add_argument(
        "--release",
        action="store_true",
        help="with --watch: wait for a release to start first (right after a change to the target)",
    )
    status.add_argument(
        "--timeout",
        type=_duration,
        default=_duration(DEFAULT_WATCH_TIMEOUT),
        help="with --watch (Go duration)",
    )
    status.add_argument("-o", "--output", choices=("json", "yaml"), help="print the status as data")

    for action, help_text in (
        (Action.PROMOTE, "finish the analysis now and promote the current revision"),
        (Action.ABORT, "roll back the current revision now"),
        (Action.RETRY, "re-run the analysis of the failed revision"),
        (Action.UNDO, "move all traffic back to the warm previous version now"),
    ):
        sub = command(action.value, help_text)
        sub.add_argument("name")
        sub.add_argument("--no-wait", action="store_true", help="do not wait for the controller's verdict")
        sub.add_argument(
            "--timeout",
            type=_duration,
            default=_duration(DEFAULT_WAIT),
            help="how long to wait (Go duration)",
        )

    command("pause", "suspend the Canary until resume").add_argument("name")
    command("resume", "undo pause").add_argument("name")
    return parser


async def run(args: argparse.Namespace) -> ExitCode:
    target = Target(
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        namespace=getattr(args, "namespace", None),
    )
    async with await Cluster.connect(target) as cluster:
        command = "get" if args.command == "list" else args.command
        if command == "get":
            return await _get(cluster, args)
        if command == "status":
            return await _status(cluster, args)
        if command in (Action.PROMOTE, Action.ABORT, Action.RETRY, Action.UNDO):
            return await actions.request(
                cluster, Action(command), args.name, wait=not args.no_wait, within=args.timeout
            )
        if command == "pause":
            return await actions.pause(cluster, args.name)
        return await actions.resume(cluster, args.name)


async def _get(cluster: Cluster, args: argparse.Namespace) -> ExitCode:
    if args.name:
        items = [await cluster.canary(args.name)]
    else:
        items = await cluster.canaries(args.all_namespaces)
    if args.output:
        print(render.dump(items[0] if args.name else render.as_list(items), args.output))
    elif not items:
        where = "any namespace" if args.all_namespaces else f"{cluster.namespace} namespace"
        print(f"No canaries found in {where}.", file=sys.stderr)
    else:
        print(render.table(items, with_namespace=args.all_namespaces))
    return ExitCode.OK


async def _status(cluster: Cluster, args: argparse.Namespace) -> ExitCode:
    if args.watch:
        return await follow.follow(cluster, args.name, within=args.timeout, release=args.release)
    body = await cluster.canary(args.name)
    info = render.summary(body, await cluster.events(args.name, cluster.namespace))
    print(render.dump(info, args.output) if args.output else render.status_text(info, datetime.now(UTC)))
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    from dashboard import (
        plugin,
    )  # `report` and `dashboard` live in the dashboard package (docs/visibility.md)

    if (delegated := plugin.command_of(sys.argv[1:] if argv is None else argv)) is not None:
        sys.exit(plugin.main(*delegated))
    args = build_parser().parse_args(argv)
    try:
        code = asyncio.run(run(args))
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        code = error.code
    except KeyboardInterrupt:
        code = ExitCode.ERROR
    sys.exit(int(code))
