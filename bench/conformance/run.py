"""``python -m bench.conformance.run``: record a corpus from chosen test modules, replay it on a real server.

    python -m bench.conformance.run                      # record the default modules, then replay
    python -m bench.conformance.run --corpus FILE        # replay an existing corpus
    python -m bench.conformance.run --tests tests/sandbox/apiserver/test_kubectl.py --json out.json

The real control plane comes from ``make control-plane`` (``.tools/control-plane/current``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from sandbox.apiserver.recording import CORPUS_VARIABLE

from . import corpus, report
from .client import KubeClient
from .replay import replay_all

REPO = pathlib.Path(__file__).resolve().parents[2]
# The emulator's own acceptance tests (kubectl 1.31 and 1.33, helm, both Python clients, kopf) and the
# controller's Kubernetes adapters: a few hundred sessions that record in about a minute.
DEFAULT_TESTS = (
    "tests/sandbox/apiserver",
    "tests/controller/kube",
    "tests/controller/alerts/test_kube.py",
    "tests/loadtester/test_gates_configmap.py",
)
RECORD_TIMEOUT_SECONDS = 300


def record(tests: list[str], path: pathlib.Path) -> None:
    path.unlink(missing_ok=True)
    print(f"conformance: recording {' '.join(tests)} -> {path}", flush=True)
    started = time.monotonic()
    env = {**os.environ, CORPUS_VARIABLE: str(path)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(
        command, cwd=REPO, env=env, timeout=RECORD_TIMEOUT_SECONDS, capture_output=True, text=True
    )
    tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"conformance: tests {tail[0]} in {time.monotonic() - started:.0f} s", flush=True)
    if done.returncode not in (0, 1):
        print(done.stdout[-3000:], file=sys.stderr)
        raise SystemExit(f"conformance: the recording run did not complete (pytest exit {done.returncode})")
    if done.returncode == 1:  # the requests of failing tests are still requests clients send
        failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
        print(
            f"conformance: warning: {len(failed)} recorded tests failed:",
            *failed[:10],
            sep="\n  ",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.conformance.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--corpus", type=pathlib.Path, help="replay this corpus instead of recording one")
    parser.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS), help="test modules to record")
    parser.add_argument(
        "--binaries", type=pathlib.Path, help="control-plane binaries (default: make control-plane's)"
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the summary as JSON here")
    parser.add_argument("--keep", type=pathlib.Path, help="keep the recorded corpus at this path")
    args = parser.parse_args(argv)

    from sandbox.controlplane import ControlPlane, find_binaries, why_missing

    binaries = args.binaries or find_binaries()
    if binaries is None:
        print(f"conformance: {why_missing()}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="flagman-conformance-") as scratch:
        work = pathlib.Path(scratch)
        path = args.corpus
        if path is None:
            path = args.keep or work / "corpus.jsonl"
            record(args.tests, path)
        sessions = corpus.load(path)
        total = sum(len(s.requests) for s in sessions)
        print(
            f"conformance: {total} requests in {len(sessions)} sessions; starting the control plane",
            flush=True,
        )
        started = time.monotonic()
        with ControlPlane(work / "control-plane", binaries, progress=lambda m: print(m, flush=True)) as plane:
            print(f"conformance: {plane.version} ready in {time.monotonic() - started:.0f} s", flush=True)
            client = KubeClient(pathlib.Path(plane.admin_kubeconfig))
            try:
                results = replay_all(client, sessions, lambda line: print(line, flush=True))
            finally:
                client.close()
    data = report.summary(results)
    print(report.render(data))
    if args.json:
        report.write_json(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
