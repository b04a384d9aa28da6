"""`python -m sandbox.controlplane.serve`: the supervisor of `flagman sandbox up --control-plane=real`.

Starts the real control plane in `<state dir>/control-plane` (fresh each time), copies its admin
kubeconfig to `<state dir>/kubeconfig`, records itself in `<state dir>/sandbox.json` (the record `down`,
`status` and `kubeconfig` read), and runs until SIGTERM/SIGINT, then stops every component.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .binaries import find_binaries, why_missing
from .launcher import ControlPlane, ControlPlaneError, describe
from .pki import PkiError

CONTROL_PLANE_DIR = "control-plane"


def record_for(plane: ControlPlane, kubeconfig: Path) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "control_plane": "real",
        **describe(plane),
        "kubeconfig": str(kubeconfig),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def serve(state_dir: Path, binaries: Path) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    workdir = state_dir / CONTROL_PLANE_DIR
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh cluster: no etcd data signed by an old CA
    record = state_dir / "sandbox.json"
    kubeconfig = state_dir / "kubeconfig"
    with ControlPlane(workdir, binaries, progress=lambda message: print(message, flush=True)) as plane:
        shutil.copyfile(plane.admin_kubeconfig, kubeconfig)
        kubeconfig.chmod(0o600)
        record.write_text(json.dumps(record_for(plane, kubeconfig), indent=2))
        print(f"sandbox ready: {plane.url}", flush=True)
        try:
            while not stop.wait(1.0):
                exited = [name for name, c in plane.components.items() if not c.running()]
                if exited:
                    print(f"sandbox: {', '.join(exited)} exited; stopping", file=sys.stderr, flush=True)
                    return 1
        finally:
            with contextlib.suppress(FileNotFoundError):
                record.unlink()
            print("sandbox: stopping the control plane", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.controlplane.serve")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    binaries = find_binaries()
    if binaries is None:
        print(f"sandbox: {why_missing()}", file=sys.stderr)
        return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        return serve(args.state_dir, binaries)
    except (ControlPlaneError, PkiError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
