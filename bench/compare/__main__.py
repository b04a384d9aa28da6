"""`python -m bench.compare`: Flagger's own controller and Flagman's, side by side on the same API server.

Behaviour: every scenario of `bench.compare.scenarios`, both controllers at once (each in a fresh namespace,
all its scenarios at once), compared normalised; prints a table scenario x verdict and every difference.
Cost: N canaries in steady analysis at the same interval, one controller at a time; prints a table.
Needs `make flagger-reference` (the Flagger binary) and `make tools` (hey).
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
import tempfile

from bench.compare import report
from bench.compare.apiserver_process import ApiServerProcess
from bench.compare.behaviour import Run, run_behaviour
from bench.compare.controllers import FLAGGER_BINARY, FLAGGER_JSON_BINARY, KINDS
from bench.compare.controlplane_backend import ControlPlaneBackend
from bench.compare.cost import run_cost
from bench.compare.scenarios import SCENARIOS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--backend",
        choices=["emulator", "controlplane", "both"],
        default="emulator",
        help="the sandbox API emulator, the real control plane (`make control-plane`), or both in turn",
    )
    parser.add_argument("--cost", default="10,100", help="canary counts for the cost table ('' for none)")
    parser.add_argument("--no-behaviour", action="store_true", help="only the cost table")
    parser.add_argument("--ticks", type=int, default=4, help="steady ticks measured per cost run (10 s each)")
    parser.add_argument("--workdir", help="keep controller logs here (default: a temporary directory)")
    parser.add_argument("--from", dest="saved", help="judge a saved behaviour run (behaviour-*.json) again")
    parser.add_argument("--verbose", action="store_true", help="print documented differences too")
    return parser


def _backend(name: str, workdir: pathlib.Path) -> ApiServerProcess | ControlPlaneBackend:
    workdir.mkdir(parents=True, exist_ok=True)
    return ApiServerProcess(workdir / "apiserver") if name == "emulator" else ControlPlaneBackend(workdir)


def main(argv: list[str]) -> int:
    options = _parser().parse_args(argv)
    scenarios = [s for s in options.scenarios.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(
            f"compare: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    try:
        counts = [int(n) for n in options.cost.split(",") if n.strip()]
    except ValueError:
        print(f"compare: --cost wants comma-separated canary counts, got {options.cost!r}", file=sys.stderr)
        return 2
    if options.saved:
        return (
            1
            if report.behaviour(
                saved := Run.load(pathlib.Path(options.saved)), saved.backend, verbose=options.verbose
            )
            else 0
        )
    for binary in (FLAGGER_BINARY, FLAGGER_JSON_BINARY):
        if not binary.exists():
            print(f"compare: no Flagger binary at {binary}: run `make flagger-reference`", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="flagman-compare-") as scratch:
        workdir = pathlib.Path(options.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"compare: logs in {workdir}", flush=True)
        failed = False
        backends = ["emulator", "controlplane"] if options.backend == "both" else [options.backend]
        for backend in backends:
            with _backend(backend, workdir / backend) as server:
                print(f"compare: on the {server.name} at {server.kubeconfig}", flush=True)
                if scenarios and not options.no_behaviour:
                    run = asyncio.run(run_behaviour(server, workdir / backend, scenarios))
                    run.save(workdir / f"behaviour-{backend}.json")
                    failed |= report.behaviour(run, server.name, verbose=options.verbose)
                if counts:
                    rows = [
                        asyncio.run(run_cost(server, workdir / backend, n, options.ticks, KINDS))
                        for n in counts
                    ]
                    report.cost(rows, server.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
