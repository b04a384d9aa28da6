"""One podinfo Canary on the sandbox with real pods, the real controller process and real traffic.

The sandbox API server (emulator) and runtime run in this process: podinfo pods are local processes on
their own loopback IPs, the apex Service a TCP proxy on its ClusterIP (the runtime's Endpoints follow the
Service's selector). The controller runs as ``python -m controller``. The Canary has no metrics and no
webhooks and a half-second interval, so a promotion takes seconds; the Blue/Green options are its
annotations.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cutover.recorder import ProcessRecorder, Recorder, Sample, VersionRecorder
from controller.api.requests import REQUEST_ANNOTATION, Action, ReleaseRequest
from controller.errors import FlagmanError
from controller.kube.api import CANARIES, DEPLOYMENTS, SERVICES, KubeApi
from sandbox.apiserver.testing import ApiServer
from sandbox.node.cluster import RealCluster, network_prefix
from sandbox.runtime import Runtime, RuntimeSettings
from sandbox.runtime.kube import Kube
from tests.controller.integration.harness import ControllerProcess
from tests.controller.kube.support import create_namespace, install_crds

NAMESPACE = "test"
PLUGIN = Path(sys.executable).parent / "kubectl-flagman"
OLD, NEW = "6.0.0", "6.0.1"


def podinfo(version: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE, "labels": {"app": "podinfo"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": f"ghcr.io/stefanprodan/podinfo:{version}",
                            "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": 9898},
                                "periodSeconds": 1,
                            },
                        }
                    ]
                },
            },
        },
    }


def canary(annotations: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE, "annotations": dict(annotations)},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 9898, "portDiscovery": True},
            "analysis": {"interval": "500ms", "threshold": 2, "iterations": 2, "metrics": [], "webhooks": []},
        },
    }


@dataclass
class CutoverSandbox:
    kubeconfig: str
    api: KubeApi
    controller: ControllerProcess
    recorder: Callable[[str], Recorder] = VersionRecorder
    """Makes the recording client for a URL (on the real control plane: one inside the node's network)."""

    async def phase(self) -> str:
        body = await self.api.get(CANARIES, NAMESPACE, "podinfo")
        return str((body.get("status") or {}).get("phase") or "")

    async def wait_phase(self, *phases: str, within: float = 90) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(FlagmanError):
                if (phase := await self.phase()) in phases:
                    return phase
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"podinfo not {' or '.join(phases)} within {within:g}s:\n{self.controller.log_tail()}"
        )

    async def wait_ready(self, name: str, within: float = 60) -> None:
        """All replicas of Deployment ``name`` updated and available."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(FlagmanError):
                body = await self.api.get(DEPLOYMENTS, NAMESPACE, name)
                spec, status = body.get("spec") or {}, body.get("status") or {}
                wanted = spec.get("replicas", 1)
                if (
                    status.get("observedGeneration") == body["metadata"].get("generation")
                    and status.get("updatedReplicas") == wanted
                    and status.get("availableReplicas") == wanted
                    and status.get("replicas") == wanted
                ):
                    return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"deployment {name} not ready within {within:g}s")

    async def url(self) -> str:
        service = await self.api.get(SERVICES, NAMESPACE, "podinfo")
        return f"http://{service['spec']['clusterIP']}:9898/version"

    async def set_version(self, version: str) -> None:
        body = await self.api.get(DEPLOYMENTS, NAMESPACE, "podinfo")
        body["spec"]["template"]["spec"]["containers"][0]["image"] = f"ghcr.io/stefanprodan/podinfo:{version}"
        await self.api.replace(DEPLOYMENTS, NAMESPACE, "podinfo", body)

    async def promote(self, version: str, *, settle: float = 1.0) -> list[Sample]:
        """Release ``version`` through the Canary with the recording client on; the samples."""
        recorder = self.recorder(await self.url())
        await recorder.start()
        await asyncio.sleep(settle)
        await self.set_version(version)
        await self.wait_phase("Progressing")
        phase = await self.wait_phase("Succeeded", "Failed")
        await asyncio.sleep(settle)
        samples = await recorder.stop()
        if phase != "Succeeded":
            raise AssertionError(f"the release failed:\n{self.controller.log_tail()}")
        return samples

    async def request_undo(self, *, via_plugin: bool) -> float:
        """Ask for an undo: with the plugin, as a user types it (its Python start-up included), or by
        writing the same request annotation from here. Returns when the request was surely written."""
        if via_plugin:
            process = await asyncio.create_subprocess_exec(
                str(PLUGIN),
                "--kubeconfig",
                self.kubeconfig,
                "-n",
                NAMESPACE,
                "undo",
                "podinfo",
                "--no-wait",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await process.communicate()
            if process.returncode != 0:
                raise AssertionError(f"undo failed: {out.decode()}{err.decode()}")
            return time.monotonic()
        body = await self.api.get(CANARIES, NAMESPACE, "podinfo")
        revision = str((body.get("status") or {}).get("lastAppliedSpec") or "")
        request = ReleaseRequest(Action.UNDO, revision, f"bench-{time.monotonic_ns():x}", "bench")
        patch = {"metadata": {"annotations": {REQUEST_ANNOTATION: request.to_annotation()}}}
        await self.api.merge_patch(CANARIES, NAMESPACE, "podinfo", patch)
        return time.monotonic()

    async def undo(
        self, *, via_plugin: bool = True, settle: float = 1.0
    ) -> tuple[float, float, list[Sample]]:
        """An undo under traffic: (asked, request written, samples), monotonic times."""
        recorder = self.recorder(await self.url())
        await recorder.start()
        await asyncio.sleep(settle)
        asked = time.monotonic()
        written = await self.request_undo(via_plugin=via_plugin)
        await asyncio.sleep(settle)
        return asked, written, await recorder.stop()


async def _prepare(sandbox: CutoverSandbox, annotations: Mapping[str, str], replicas: int) -> None:
    await install_crds(sandbox.api)
    with contextlib.suppress(FlagmanError):  # the real control plane's namespace may exist already
        await create_namespace(sandbox.api, NAMESPACE)
    await sandbox.api.create(DEPLOYMENTS, NAMESPACE, podinfo(OLD, replicas))
    await sandbox.api.create(CANARIES, NAMESPACE, canary(annotations))
    sandbox.controller.start()
    await sandbox.wait_phase("Initialized")
    await sandbox.wait_ready("podinfo-primary")


@contextlib.asynccontextmanager
async def cutover_sandbox(
    workdir: Path, annotations: Mapping[str, str], *, replicas: int = 2
) -> AsyncIterator[CutoverSandbox]:
    """The emulator and the sandbox runtime in this process, podinfo ``OLD`` Initialized under the
    controller, ``annotations`` on its Canary."""
    with ApiServer(workdir=workdir / "apiserver", bookmark_interval=0.2) as server:
        kube = Kube.from_url(server.url)
        settings = RuntimeSettings(state_dir=workdir / "sandbox", second_octet=random.randint(60, 250))
        runtime = Runtime(kube, settings)
        await runtime.start()
        api = await KubeApi.connect(server.kubeconfig, user_agent="flagman-bench")
        controller = ControllerProcess(server.kubeconfig, "http://127.0.0.1:9", workdir / "controller.log")
        sandbox = CutoverSandbox(server.kubeconfig, api, controller)
        try:
            await _prepare(sandbox, annotations, replicas)
            yield sandbox
        finally:
            controller.stop()
            await api.close()
            await runtime.stop()
            await kube.close()


@contextlib.asynccontextmanager
async def real_cutover_sandbox(
    workdir: Path, annotations: Mapping[str, str], *, binaries: Path, replicas: int = 2
) -> AsyncIterator[CutoverSandbox]:
    """The same on the real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
    with the node agent running the pods; the recording client runs inside the node's network namespace,
    where the agent serves the ClusterIPs from the real EndpointSlices."""
    cluster = RealCluster(workdir / "real", binaries)
    await asyncio.to_thread(cluster.start)
    try:
        kubeconfig = str(cluster.kubeconfig)
        api = await KubeApi.connect(kubeconfig, user_agent="flagman-bench")
        controller = ControllerProcess(kubeconfig, "http://127.0.0.1:9", workdir / "controller.log")
        node = f"/run/netns/{network_prefix(cluster.state_dir)}-node"
        prefix = cluster.in_node_mounts(["nsenter", f"--net={node}", "--"])

        def recorder(url: str) -> Recorder:
            return ProcessRecorder(url, prefix)

        sandbox = CutoverSandbox(kubeconfig, api, controller, recorder)
        try:
            await _prepare(sandbox, annotations, replicas)
            yield sandbox
        finally:
            controller.stop()
            await api.close()
    finally:
        await asyncio.to_thread(cluster.stop)
