"""``flagman dashboard``: the web dashboard on 127.0.0.1, with the user's kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from aiohttp import web

from dashboard.kube import ClusterError, Connection, api_client
from dashboard.live import CanaryFeed
from dashboard.server import Dashboard, create_app
from kubectl_flagman.cluster import Cluster, Target
from kubectl_flagman.errors import PluginError

DEFAULT_PORT = 8765


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="flagman dashboard",
        description="Serve a live web dashboard of the Canaries on 127.0.0.1, with your kubeconfig.",
    )
    parse.add_argument("--kubeconfig", help="the kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parse.add_argument("--context", help="the kubeconfig context")
    parse.add_argument("-n", "--namespace", help="only this namespace (default: every namespace)")
    parse.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any)"
    )
    parse.add_argument(
        "--allow-actions",
        action="store_true",
        help="offer promote, abort and retry (written as you, with your permissions); default: read-only",
    )
    return parse


async def serve(args: argparse.Namespace, ready: asyncio.Event | None = None) -> None:
    connection = Connection(args.kubeconfig, args.context)
    api = await api_client(connection)
    cluster = None
    if args.allow_actions:
        cluster = await Cluster.connect(Target(args.kubeconfig, args.context, args.namespace))
    feed = CanaryFeed(api, args.namespace)
    dashboard = Dashboard(
        api, feed, cluster, scope=f"namespace {args.namespace}" if args.namespace else "all namespaces"
    )
    runner = web.AppRunner(create_app(dashboard), access_log=None, shutdown_timeout=1.0)
    feed.start()
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        port = runner.addresses[0][1]
        mode = "actions allowed" if cluster else "read-only"
        print(f"Flagman dashboard ({mode}): open http://127.0.0.1:{port}/", flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        dashboard.close()
        await feed.stop()
        if cluster is not None:
            await cluster.close()
        await api.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"flagman dashboard: invalid --port {args.port}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    except (ClusterError, PluginError, OSError) as error:
        print(f"flagman dashboard: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
