"""`python -m bench.scale.plot RESULT.json... -o curve.png`: the scaling curve from `bench.scale --json`.

One PNG, four panels against the number of canaries (and interval): tick lateness p50/p99, controller CPU
per steady tick, resident memory and cold start, each point labelled with the 1-minute load average of
its run (the machine is shared, and lateness is the machine's as much as the controller's). matplotlib
is a dev dependency (`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

DEFAULT_OUTPUT = pathlib.Path("bench/scale/curve.png")


def plot(rows: Sequence[dict[str, Any]], output: pathlib.Path) -> None:
    """Write the curve of `rows` (results of `bench.scale --json`) to `output` (PNG or SVG)."""
    # imported by name: mypy --strict need not type-check matplotlib's API
    importlib.import_module("matplotlib").use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    rows = sorted(rows, key=lambda row: (row["interval"], row["canaries"]))
    labels = [f"{row['canaries']}\n@{row['interval']:g}s" for row in rows]
    loads = [row["load_average"].split()[0] for row in rows]
    figure, axes = plt.subplots(1, 4, figsize=(17, 4.4))
    lateness, cpu, memory, start = axes
    lateness.plot(labels, [row["lateness_p50_ms"] for row in rows], marker="o", label="p50")
    lateness.plot(labels, [row["lateness_p99_ms"] for row in rows], marker="o", label="p99")
    lateness.axhline(250, linestyle="--", color="grey", label="goal p99 250 ms (1,000 @ 10s)")
    lateness.set_yscale("symlog", linthresh=100)
    lateness.set_ylim(top=3 * max(250.0, *(row["lateness_p99_ms"] for row in rows)))
    lateness.set_title("tick lateness (ms)")
    cpu.plot(labels, [row["cpu_ms_per_tick"] for row in rows], marker="o", color="tab:red")
    cpu.axhline(2.0, linestyle="--", color="grey", label="goal 2 ms")
    cpu.set_ylim(bottom=0)
    cpu.set_title("controller CPU per steady tick (ms)")
    memory.plot(labels, [row["rss_mb"] for row in rows], marker="o", color="tab:green")
    memory.axhline(250, linestyle="--", color="grey", label="goal 250 MB")
    memory.set_ylim(bottom=0)
    memory.set_title("controller RSS (MB)")
    start.plot(labels, [row["init_seconds"] for row in rows], marker="o", color="tab:purple")
    start.axhline(60, linestyle="--", color="grey", label="goal 60 s (1,000)")
    start.set_ylim(bottom=0)
    start.set_title("cold start to all Initialized (s)")
    for axis, key in zip(axes, ("lateness_p99_ms", "cpu_ms_per_tick", "rss_mb", "init_seconds"), strict=True):
        for x, (row, load) in enumerate(zip(rows, loads, strict=True)):
            axis.annotate(
                f"load {load}",
                (x, row[key]),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=7,
                color="dimgrey",
            )
        axis.legend(fontsize=8, loc="upper left")
        if axis is not lateness:
            axis.set_ylim(top=1.25 * max(axis.get_ylim()[1], *(row[key] for row in rows)))
    figure.suptitle("bench.scale: one controller process on 2 shared cores (labels: 1-minute load average)")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    plt.close(figure)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale.plot")
    parser.add_argument("results", nargs="+", type=pathlib.Path, help="files written by bench.scale --json")
    parser.add_argument("-o", "--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    options = parser.parse_args(argv)
    try:
        plot([json.loads(path.read_text()) for path in options.results], options.output)
    except ImportError:
        print("bench.scale.plot needs matplotlib: .venv/bin/pip install -e '.[dev]'", file=sys.stderr)
        return 2
    print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
