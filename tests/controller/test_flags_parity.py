"""Flagger's command line in full: klog's flags, `-version`'s shape, and flags that act as they say."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from controller.kube.api import KubeApi
from controller.settings import SettingsError, parse_settings
from controller.version import VERSION
from sandbox.apiserver.testing import ApiServer


def test_klog_flags_are_accepted_as_flagger_accepts_them() -> None:
    settings = parse_settings(
        [
            "-v=2",
            "-logtostderr",  # a bare klog boolean does not swallow the next flag
            "-mesh-provider=kubernetes",
            "--alsologtostderr=false",
            "-vmodule=controller*=3,scheduler=4",
            "-stderrthreshold",
            "warning",
            "-log_dir=/tmp/logs",
            "-log_file",
            "/tmp/flagger.log",
            "-log_file_max_size=1800",
            "-skip_headers",
            "-one_output=true",
            "-log_backtrace_at=main.go:42",
        ],
        {},
    )
    assert settings.mesh_provider == "kubernetes"
    assert dict(settings.klog) == {
        "v": "2",
        "logtostderr": "true",
        "alsologtostderr": "false",
        "vmodule": "controller*=3,scheduler=4",
        "stderrthreshold": "WARNING",
        "log_dir": "/tmp/logs",
        "log_file": "/tmp/flagger.log",
        "log_file_max_size": "1800",
        "skip_headers": "true",
        "one_output": "true",
        "log_backtrace_at": "main.go:42",
    }


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("-v=high", 'invalid value "high" for flag -v: parse error'),
        ("-vmodule=scheduler", "for flag -vmodule: syntax error: expect comma-separated list of filename=N"),
        ("-stderrthreshold=LOUD", "for flag -stderrthreshold: unknown severity 'LOUD'"),
        ("-logtostderr=maybe", 'invalid value "maybe" for flag -logtostderr'),
        ("-log_backtrace_at=main:1", "for flag -log_backtrace_at: syntax error: expect file.go:234"),
    ],
)
def test_bad_klog_values_are_refused_as_go_refuses_them(argument: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings([argument], {})


def test_klog_flags_have_no_environment_fallback() -> None:
    assert dict(parse_settings([], {"FLAGMAN_V": "9"}).klog) == {}


def test_version_prints_flaggers_shape_with_flagmans_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "-version", "-v=3"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Flagman version {VERSION} revision  unknown\n"
    assert done.stdout.split()[2] == VERSION  # the field Flagger's output has its version in


def test_threadiness_is_accepted_and_checked() -> None:
    # Flagger's sync workers; here one Canary watch feeds the loops and `TickGate` bounds the ticks.
    assert parse_settings(["-threadiness=7"], {}).threadiness == 7


async def test_kubeconfig_qps_and_burst_rate_limit_the_client(apiserver: ApiServer) -> None:
    """A burst of 5 goes at once, then 10 per second: 15 requests need about 1 s (unlimited: ~0.05 s)."""
    limited = await KubeApi.connect(apiserver.kubeconfig, qps=10, burst=5)
    try:
        started = time.monotonic()
        for _ in range(5):
            await limited.request("GET", "/api/v1/namespaces")
        assert time.monotonic() - started < 0.4
        for _ in range(10):
            await limited.request("GET", "/api/v1/namespaces")
        assert time.monotonic() - started >= 0.8
    finally:
        await limited.close()
