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
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.apiserver.testing import ApiServer


@pytest.fixture
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A fresh API server per test (Kubernetes minor 31, bookmarks every 0.2 s)."""
    with ApiServer(workdir=tmp_path_factory.mktemp("apiserver"), bookmark_interval=0.2) as server:
        yield server
