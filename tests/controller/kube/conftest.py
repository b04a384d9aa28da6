"""A connected client, Flagger's CRDs and a `test` namespace on the sandbox API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controller.kube.api import KubeApi
from controller.kube.cluster import Cluster
from sandbox.apiserver.testing import ApiServer
from tests.controller.kube.support import create_namespace, install_crds


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await KubeApi.connect(apiserver.kubeconfig)
    await install_crds(client)
    await create_namespace(client, "test")
    yield client
    await client.close()


@pytest.fixture
async def cluster(api: KubeApi) -> AsyncIterator[Cluster]:
    caches = Cluster.create(api, "test", watch_timeout_seconds=5)
    await caches.start()
    yield caches
    await caches.stop()
