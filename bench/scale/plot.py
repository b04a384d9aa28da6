"""`python -m bench.scale.plot RESULT.json... -o curve.png`: the scaling curve from `bench.scale --json`.

Needs matplotlib, which the project does not depend on (`pip install matplotlib`); one PNG with tick
lateness p50/p99, controller CPU per tick and resident memory against the number of canaries.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
from typing import Any


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale.plot")
    parser.add_argument("results", nargs="+", type=pathlib.Path, help="files written by bench.scale --json")
    parser.add_argument("-o", "--output", type=pathlib.Path, default=pathlib.Path("bench/scale/curve.png"))
    options = parser.parse_args(argv)
    try:  # imported by name: an optional tool, so neither the project nor mypy needs it installed
        importlib.import_module("matplotlib").use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        print("bench.scale.plot needs matplotlib: .venv/bin/pip install matplotlib", file=sys.stderr)
        return 2
    rows = sorted((json.loads(path.read_text()) for path in options.results), key=lambda row: row["canaries"])
    labels = [f"{row['canaries']}\n@{row['interval']:g}s" for row in rows]
    figure, (lateness, cpu, memory) = plt.subplots(1, 3, figsize=(13, 4))
    lateness.plot(labels, [row["lateness_p50_ms"] for row in rows], marker="o", label="p50")
    lateness.plot(labels, [row["lateness_p99_ms"] for row in rows], marker="o", label="p99")
    lateness.set_title("tick lateness (ms)")
    lateness.legend()
    cpu.plot(labels, [row["cpu_ms_per_tick"] for row in rows], marker="o", color="tab:red")
    cpu.axhline(2.0, linestyle="--", color="grey", label="goal 2 ms")
    cpu.set_title("controller CPU per steady tick (ms)")
    cpu.legend()
    memory.plot(labels, [row["rss_mb"] for row in rows], marker="o", color="tab:green")
    memory.axhline(250, linestyle="--", color="grey", label="goal 250 MB")
    memory.set_title("controller RSS (MB)")
    memory.legend()
    loads = ", ".join(sorted({row["load_average"].split()[0] for row in rows}))
    figure.suptitle(f"bench.scale on 2 shared cores (1-min load average during the runs: {loads})")
    figure.tight_layout()
    figure.savefig(options.output, dpi=90)
    print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
