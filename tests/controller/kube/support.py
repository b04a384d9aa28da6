"""Helpers for tests that talk to the sandbox API server through the controller's own client."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import yaml

from controller.kube.api import KubeApi

REPO = pathlib.Path(__file__).resolve().parents[3]
CRD_FILE = REPO / "kustomize" / "base" / "flagman" / "crd.yaml"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

T = TypeVar("T")


async def install_crds(api: KubeApi) -> None:
    """Create Flagger's three CRDs from the single source the charts use, and wait until they serve."""
    for document in yaml.safe_load_all(CRD_FILE.read_text()):
        if document:
            await api.request("POST", CRD_PATH, body=document)
    for plural in ("canaries", "metrictemplates", "alertproviders"):
        await eventually(lambda p=plural: api.request("GET", f"/apis/flagger.app/v1beta1/{p}"))  # type: ignore[misc]


async def create_namespace(api: KubeApi, name: str) -> None:
    await api.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Retry `probe` until it returns a truthy value without raising; the last error explains a timeout."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            result = await probe()
            if result:
                return result
            last = result
        except Exception as error:  # retried until the deadline
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}: last result {last!r}")
        await asyncio.sleep(interval)
