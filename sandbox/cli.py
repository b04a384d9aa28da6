"""`flagman sandbox <command>`: the local Kubernetes stand-in.

A small argparse dispatcher: each subcommand registers its parser and a ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Runner = Callable[[argparse.Namespace], int]


def _run_apiserver(args: argparse.Namespace) -> int:
    from sandbox.apiserver.server import serve

    return serve(
        host=args.host,
        port=args.port,
        minor=args.kubernetes_minor,
        state_file=args.state,
        bookmark_interval=args.bookmark_interval,
    )


def _add_apiserver(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "apiserver",
        help="serve the Kubernetes API emulator over plain HTTP until SIGTERM",
        description="Kubernetes API emulator that real kubectl, helm and the Python clients work against.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port to listen on (default 6443)")
    parser.add_argument(
        "--state", metavar="FILE", help="load the store from FILE on start, save it on shutdown"
    )
    parser.add_argument(
        "--kubernetes-minor",
        type=int,
        default=31,
        help="minor version /version reports; the kubectl dispatcher picks its binary by it (default 31)",
    )
    parser.add_argument(
        "--bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARK events"
    )
    parser.set_defaults(run=_run_apiserver)


def build_parser(include_runtime: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flagman sandbox", description="the local Kubernetes stand-in")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    _add_apiserver(subparsers)
    if include_runtime:
        from sandbox.up import add_subcommands  # up, down, status, kubeconfig, exec (sandbox-runtime)

        add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv) if argv is not None else sys.argv[1:]
    # `apiserver` alone does not need the runtime's imports (kubernetes_asyncio: about 40 MB and 0.3 s).
    parser = build_parser(include_runtime=arguments[:1] != ["apiserver"])
    args = parser.parse_args(arguments)
    run: Runner | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    return run(args)
