"""``flagman report NAME [-n NS]``: write the HTML (and SVG) report of an analysis run."""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
from collections.abc import Sequence

from dashboard.history import History, HistoryFormatError, parse_history
from dashboard.kube import ClusterError, Connection, api_client, default_namespace, read_history


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="flagman report",
        description="Write a self-contained HTML report (and one SVG per plot) of a Canary's analysis run.",
    )
    parse.add_argument("name", help="the Canary")
    parse.add_argument("-n", "--namespace", help="the Canary's namespace (default: the context's)")
    parse.add_argument("--kubeconfig", help="the kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parse.add_argument("--context", help="the kubeconfig context")
    parse.add_argument("--run", type=int, help="the run number (default: the latest)")
    parse.add_argument("-o", "--output-dir", default=".", help="where to write the files (default: .)")
    parse.add_argument(
        "--from-file", help="read the history document from this JSON file instead of the cluster"
    )
    return parse


async def _fetch(connection: Connection, namespace: str, name: str) -> History:
    api = await api_client(connection)
    async with api:
        return await read_history(api, namespace, name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from dashboard.report import write_report  # matplotlib: optional, imported when needed
    except ModuleNotFoundError as error:
        print(f"flagman report: {error}", file=sys.stderr)
        return 1
    try:
        if args.from_file:
            history = parse_history(json.loads(pathlib.Path(args.from_file).read_text(encoding="utf-8")))
        else:
            connection = Connection(args.kubeconfig, args.context)
            namespace = args.namespace or default_namespace(connection)
            print(f"reading the analysis history of {args.name}.{namespace} ...", file=sys.stderr)
            history = asyncio.run(_fetch(connection, namespace, args.name))
        run = history.run(args.run)
        print(f"plotting run {run.number} ({run.status}, {len(run.metrics)} metrics) ...", file=sys.stderr)
        files = write_report(history, run, pathlib.Path(args.output_dir))
    except (ClusterError, HistoryFormatError, OSError, ValueError) as error:
        print(f"flagman report: {error}", file=sys.stderr)
        return 1
    print(files.html)
    for svg in files.svgs:
        print(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
