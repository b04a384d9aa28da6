"""Whether a test can use the real control plane: its binaries (`make control-plane`), and for the node
agent root and iproute2. Skips when they are missing, or fails when FLAGMAN_REQUIRE_REAL_BACKEND=1 (CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sandbox.controlplane.testing import availability


def control_plane_binaries_or_skip() -> Path:
    found = availability()
    if found.binaries is None:
        if found.required:
            pytest.fail(found.reason, pytrace=False)
        pytest.skip(found.reason)
    return found.binaries


def node_binaries_or_skip() -> Path:
    """As above, and the node agent's needs (network namespaces)."""
    binaries = control_plane_binaries_or_skip()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the node agent needs root and iproute2 for network namespaces")
    return binaries
