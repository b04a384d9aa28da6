"""``flagman report NAME [-n NS]``: write the report of an analysis run as HTML (with one SVG per plot),
or as one PNG or SVG image (``--format``, or the extension of ``-o FILE``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.history import History, HistoryFormatError, parse_history
from dashboard.kube import ClusterError, Connection, api_client, default_namespace, read_history

FORMATS = ("html", "png", "svg")


@dataclass(frozen=True)
class Destination:
    kind: str
    directory: pathlib.Path
    stem: str | None  # None: NAME-runN


def destination(output: str, kind: str | None) -> Destination:
    """Where ``-o`` and ``--format`` say to write: a file whose extension is a format, else a directory."""
    path = pathlib.Path(output)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS and not path.is_dir():
        if kind is not None and kind != suffix:
            raise ValueError(f"-o {output} is a .{suffix} file but --format is {kind}")
        return Destination(suffix, path.parent, path.stem)
    return Destination(kind or "html", path, None)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="flagman report",
        description="Write the report of a Canary's analysis run: a self-contained HTML page (and one SVG"
        " per plot), or the whole run as one PNG or SVG image.",
    )
    parse.add_argument("name", help="the Canary")
    parse.add_argument("-n", "--namespace", help="the Canary's namespace (default: the context's)")
    parse.add_argument("--kubeconfig", help="the kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parse.add_argument("--context", help="the kubeconfig context")
    parse.add_argument("--run", type=int, help="the run number (default: the latest)")
    parse.add_argument(
        "-o",
        "--output",
        "--output-dir",  # its first name
        dest="output",
        default=".",
        help="a directory (default: .; files named NAME-runN.*) or a file: report.html, run.png, run.svg",
    )
    parse.add_argument(
        "--format",
        choices=FORMATS,
        help="html (default), png or svg; without it, the extension of -o FILE chooses",
    )
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
        from dashboard.report import report_stem, write_image, write_report  # matplotlib: optional
    except ModuleNotFoundError as error:
        print(f"flagman report: {error}", file=sys.stderr)
        return 1
    try:
        target = destination(args.output, args.format)
        if args.from_file:
            history = parse_history(json.loads(pathlib.Path(args.from_file).read_text(encoding="utf-8")))
        else:
            connection = Connection(args.kubeconfig, args.context)
            namespace = args.namespace or default_namespace(connection)
            print(f"reading the analysis history of {args.name}.{namespace} ...", file=sys.stderr)
            history = asyncio.run(_fetch(connection, namespace, args.name))
        run = history.run(args.run)
        print(
            f"plotting run {run.number} ({run.status}, {len(run.metrics)} metrics) as {target.kind} ...",
            file=sys.stderr,
        )
        if target.kind == "html":
            files = write_report(history, run, target.directory, target.stem)
            written = [files.html, *files.svgs]
        else:
            stem = target.stem or report_stem(history, run)
            written = [write_image(history, run, target.directory / f"{stem}.{target.kind}", target.kind)]
    except (ClusterError, HistoryFormatError, OSError, ValueError) as error:
        print(f"flagman report: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
