"""Fixtures shared by every test area.

``apiserver``: the sandbox Kubernetes API server on a random loopback port, running in a background
thread with its own event loop, so sync tests can run real ``kubectl``/``helm`` with ``subprocess.run``
and async tests can use kubernetes_asyncio or kopf against it. It yields a
:class:`sandbox.apiserver.testing.ApiServer`:

- ``.url``          ``http://127.0.0.1:PORT``
- ``.kubeconfig``   path of a kubeconfig file with ``server: http://127.0.0.1:PORT``
- ``.request_log``  list of ``RequestRecord(method, path, query, status, duration, verb, resource, ...)``
- ``.faults``       ``fail(verb, resource, status, times=1)``, ``delay(verb, resource, seconds)``,
                    ``drop_watches(resource=None)``, ``clear()``
- ``.compact()``    forget the watch history (provokes 410 Gone), ``.kubectl_env()`` for subprocesses

``control_plane``: the real Kubernetes control plane (:class:`sandbox.controlplane.ControlPlane`: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler from ``make control-plane``), started once per
session. Without the binaries its tests skip, saying how to build them, unless
``FLAGMAN_REQUIRE_REAL_BACKEND=1`` (CI): then they fail. ``real_namespace``: a fresh namespace on it per
test (its ``default`` ServiceAccount exists, so pods are accepted), deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.apiserver.testing import ApiServer
from sandbox.controlplane import ControlPlane
from sandbox.controlplane.testing import fresh_namespace
from tests.realbackend import control_plane_binaries_or_skip


@pytest.fixture
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A fresh API server per test (Kubernetes minor 31, bookmarks every 0.2 s)."""
    with ApiServer(workdir=tmp_path_factory.mktemp("apiserver"), bookmark_interval=0.2) as server:
        yield server


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ControlPlane]:
    """The real control plane, once per session (skips or, with FLAGMAN_REQUIRE_REAL_BACKEND=1, fails
    when `make control-plane` has not been run)."""
    binaries = control_plane_binaries_or_skip()
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:  # start-up takes seconds: show it even with output captured
        if capture is None:
            print(message, flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(f"\n{message}", end="", flush=True)

    workdir = tmp_path_factory.mktemp("control-plane")
    with ControlPlane(workdir, binaries, progress=progress) as plane:
        yield plane


@pytest.fixture
def real_namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace on the real control plane, named after the test, deleted afterwards."""
    with fresh_namespace(control_plane, request.node.name) as name:
        yield name
