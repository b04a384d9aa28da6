"""`flagman demo --control-plane real`: the tutorial on etcd, kube-apiserver, kube-controller-manager and
kube-scheduler from `make control-plane`, with the node agent running the pods (helm install of the chart
with its Prometheus, podinfo, the load tester, promotion, rollback under HTTP 500s sent by `kubectl exec`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.story import STORY, assert_told, run_demo
from tests.realbackend import node_binaries_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(580)]


@pytest.fixture
def real_backend() -> None:
    node_binaries_or_skip()


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_demo_on_the_real_control_plane_promotes_then_rolls_back(real_backend: None, tmp_path: Path) -> None:
    state = tmp_path / "demo"
    output = run_demo(
        [
            *("--control-plane", "real", "--install", "helm", "--iterations", "3"),
            *("--min-analysis-interval", "500ms", "--load-test-duration", "30s", "--timeout", "500"),
            *("--state-dir", str(state)),
        ],
        timeout=560,
    )
    assert_told(
        output,
        [
            "control plane v1.",
            "node flagman-node Ready",
            'deployment "flagger" successfully rolled out',
            'deployment "flagger-prometheus" successfully rolled out',
            *STORY,
            "flagman-node",  # kubectl get pods -o wide: the pods ran on the node
            "podinfo-primary",  # kubectl get endpointslices
        ],
    )
    assert not processes_mentioning(str(state)), "the demo left processes behind"
