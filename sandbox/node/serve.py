"""`python -m sandbox.node.serve`: the supervisor of `flagman sandbox up --control-plane=real`.

Starts the real control plane and the node agent (`cluster.RealCluster`) in `<state dir>` (fresh each time),
copies the admin kubeconfig to `<state dir>/kubeconfig`, records itself in `<state dir>/sandbox.json` (the
record `down`, `status` and `kubeconfig` read) and runs until SIGTERM/SIGINT, restarting the agent if it
dies (as systemd restarts a kubelet). Stopping stops every pod, deletes the node's network namespaces and
stops the control plane. `up` starts it in a private mount namespace, so the namespaces' mount points
(/run/netns) exist only there and vanish with it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.controlplane import ControlPlaneError, describe, find_binaries, why_missing
from sandbox.node.cluster import ClusterError, RealCluster
from sandbox.runtime.podman_images import POD_RUNTIMES

LEFTOVER_DIRS = ("control-plane", "node")


def clean_leftovers(state_dir: Path) -> None:
    """A previous supervisor that was killed may have left pods running: end them, then start afresh."""
    config = state_dir / "node" / "agent.json"
    if config.exists():
        subprocess.run(
            [sys.executable, "-m", "sandbox.node", "--clean-up", str(config)],
            capture_output=True,
            check=False,
        )
    for name in LEFTOVER_DIRS:
        shutil.rmtree(state_dir / name, ignore_errors=True)


def record_for(cluster: RealCluster, kubeconfig: Path) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "control_plane": "real",
        **describe(cluster.plane),
        **cluster.describe(),
        "kubeconfig": str(kubeconfig),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def serve(state_dir: Path, binaries: Path, pod_runtime: str = "process") -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    clean_leftovers(state_dir)
    record = state_dir / "sandbox.json"
    kubeconfig = state_dir / "kubeconfig"
    progress = functools.partial(print, flush=True)
    with RealCluster(state_dir, binaries, progress=progress, pod_runtime=pod_runtime) as cluster:
        shutil.copyfile(cluster.kubeconfig, kubeconfig)
        kubeconfig.chmod(0o600)
        record.write_text(json.dumps(record_for(cluster, kubeconfig), indent=2))
        print(f"sandbox ready: {cluster.plane.url}", flush=True)
        try:
            while not stop.wait(1.0):
                exited = [name for name, c in cluster.plane.components.items() if not c.running()]
                if exited:
                    print(f"sandbox: {', '.join(exited)} exited; stopping", file=sys.stderr, flush=True)
                    return 1
                if cluster.agent is not None and cluster.agent.poll() is not None:
                    print(
                        f"sandbox: the node agent exited ({cluster.agent.returncode}); restarting it",
                        flush=True,
                    )
                    cluster.start_agent()
                    record.write_text(json.dumps(record_for(cluster, kubeconfig), indent=2))
        finally:
            with contextlib.suppress(FileNotFoundError):
                record.unlink()
            print("sandbox: stopping the node and the control plane", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.node.serve")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--pod-runtime", choices=POD_RUNTIMES, default="process")
    args = parser.parse_args(argv)
    binaries = find_binaries()
    if binaries is None:
        print(f"sandbox: {why_missing()}", file=sys.stderr)
        return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        return serve(args.state_dir.resolve(), binaries, args.pod_runtime)
    except (ControlPlaneError, ClusterError, OSError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
