"""Where the control-plane binaries are (`make control-plane` builds them) and which version they are."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
ENV_DIR = "FLAGMAN_CONTROL_PLANE_DIR"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO / ".tools" / "control-plane" / "current"


class BinariesError(Exception):
    pass


def candidate_dir() -> Path:
    """`$FLAGMAN_CONTROL_PLANE_DIR`, else `<repo>/.tools/control-plane/current`."""
    configured = os.environ.get(ENV_DIR)
    return Path(configured) if configured else DEFAULT_DIR


def missing(directory: Path) -> list[str]:
    return [name for name in COMPONENTS if not os.access(directory / name, os.X_OK)]


def find_binaries() -> Path | None:
    """The directory holding all four executables, or None."""
    directory = candidate_dir()
    return directory.resolve() if not missing(directory) else None


def why_missing() -> str:
    """A sentence for a skip or an error: what is missing where, and how to get it."""
    directory = candidate_dir()
    absent = missing(directory)
    if not absent:
        return f"the control plane binaries are in {directory}"
    source = f"${ENV_DIR}" if os.environ.get(ENV_DIR) else "the default location"
    return (
        f"no real Kubernetes control plane: {', '.join(absent)} missing in {directory} ({source}); "
        "build it with `make control-plane` (needs Go >= 1.24, about 15 minutes cold) "
        f"or point {ENV_DIR} at a directory holding {', '.join(COMPONENTS)}"
    )


def apiserver_version(binaries: Path) -> str:
    """`v1.34.4`, from `kube-apiserver --version` (the build injects it; v0.0.0 means it was not)."""
    result = subprocess.run(
        [str(binaries / "kube-apiserver"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    match = re.search(r"v\d+\.\d+\.\d+\S*", result.stdout)
    if result.returncode != 0 or match is None:
        raise BinariesError(
            f"cannot read the version of {binaries / 'kube-apiserver'}: {result.stderr.strip()}"
        )
    return match.group(0)
