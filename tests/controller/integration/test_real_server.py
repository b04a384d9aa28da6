"""What the first contact with a real kube-apiserver revealed, each pinned on both backends.

- Events: `generateName: "podinfo."` is refused by a real server (the prefix must end alphanumeric), so
  every event was lost there; the recorder now names them as client-go does.
- The CRDs: `format: url` is not a format the server knows (`Warning: unrecognized format "url"`).
- A 403 for a namespace being deleted switched the recorder to core/v1 events for good.
- Started right after the CRDs were created, the controller met 429 `storage is (re)initializing` and
  exited; it now waits (the composition root's start-up back-off).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import aiohttp
import pytest

from controller.api import CanaryRef
from controller.kube.api import KubeApi
from controller.kube.recorder import KubeRecorder
from controller.rollout.ports import Event
from sandbox.controlplane import ControlPlane
from sandbox.controlplane.testing import availability
from tests.controller.integration.backends import CRD_FILE, RealCluster
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import ControllerProcess
from tests.controller.integration.scenarios import apply_canary
from tests.controller.integration.test_tutorial import kubectl
from tests.controller.kube.support import eventually


async def test_events_are_written_as_the_controller_and_shown_by_kubectl_describe(bench: Bench) -> None:
    await apply_canary(bench)
    body = await bench.canary()
    ref = CanaryRef.from_body(body)
    # The recorder with the controller's own credentials (on the real backend: the chart's ServiceAccount).
    api = await KubeApi.connect(bench.target.controller_kubeconfig, user_agent="flagman-controller/test")
    recorder = KubeRecorder(api, instance="flagman-test")
    try:
        await recorder.event(ref, Event.normal(f"Initialization done! podinfo.{bench.ns}"))
        await recorder.event(ref, Event.warning(f"Halt podinfo.{bench.ns} advancement"))
        await recorder.event(ref, Event.warning(f"Halt podinfo.{bench.ns} advancement"))  # a series
    finally:
        await recorder.close()
        await api.close()

    assert await bench.events() == [
        ("Normal", f"Initialization done! podinfo.{bench.ns}"),
        ("Warning", f"Halt podinfo.{bench.ns} advancement"),
        ("Warning", f"Halt podinfo.{bench.ns} advancement"),
    ]
    listing = await bench.api.request("GET", f"/apis/events.k8s.io/v1/namespaces/{bench.ns}/events")
    names = sorted(item["metadata"]["name"] for item in listing["items"])
    assert len(names) == 2 and all(name.startswith("podinfo.") for name in names)
    assert all(int(name.removeprefix("podinfo."), 16) > 0 for name in names)  # <object>.<hex nanoseconds>

    described = await kubectl(bench, "-n", bench.ns, "describe", "canary/podinfo")
    assert described.returncode == 0, described.stderr
    assert f"Initialization done! podinfo.{bench.ns}" in described.stdout
    assert f"Halt podinfo.{bench.ns} advancement" in described.stdout


def test_the_crds_apply_without_warnings(real_cluster: RealCluster) -> None:
    assert "Warning" not in real_cluster.crd_apply_output, real_cluster.crd_apply_output
    assert real_cluster.crd_apply_output.count("created") == 3


async def test_a_terminating_namespace_does_not_turn_events_k8s_io_off(
    real_cluster: RealCluster, real_namespace: str
) -> None:
    """A real server refuses new objects in a namespace being deleted with 403; that is not RBAC, and
    the recorder must keep writing events.k8s.io events elsewhere (it fell back to core/v1 for good,
    so every later event lost its eventTime and series)."""
    plane = real_cluster.plane
    doomed = f"{real_namespace}-doomed"
    plane.admin_request("POST", "/api/v1/namespaces", {"metadata": {"name": doomed}})
    # A finalizer keeps the namespace Terminating until the test lets it go.
    hold = {"metadata": {"name": "hold", "finalizers": ["flagman.test/hold"]}}
    plane.admin_request("POST", f"/api/v1/namespaces/{doomed}/configmaps", hold)
    plane.admin_request("DELETE", f"/api/v1/namespaces/{doomed}")
    api = await KubeApi.connect(str(real_cluster.controller_kubeconfig), user_agent="flagman-controller/test")
    recorder = KubeRecorder(api, instance="flagman-test")
    try:
        await recorder.event(CanaryRef("gone", doomed), Event.normal("Halt gone advancement"))
        await recorder.event(CanaryRef("podinfo", real_namespace), Event.normal("Initialization done!"))
    finally:
        await recorder.close()
        await api.close()
        patch = {"metadata": {"finalizers": None}}
        plane.admin_request("PATCH", f"/api/v1/namespaces/{doomed}/configmaps/hold", patch)
    events = plane.admin_request("GET", f"/apis/events.k8s.io/v1/namespaces/{real_namespace}/events")["items"]
    assert [(e["note"], e["reportingController"]) for e in events] == [("Initialization done!", "flagger")]
    assert events[0]["eventTime"], "written through events.k8s.io/v1, not the core/v1 fallback"


async def test_a_controller_started_together_with_the_crds_waits_for_them(tmp_path: Path) -> None:
    """A fresh install applies the CRDs and starts the controller at once; while the new resources' storage
    initialises a real server answers 429/503, and the controller must wait it out (it exited with code 1
    before), then serve /readyz. A fresh control plane: the session's has its CRDs long established."""
    found = availability()
    if found.binaries is None:
        if found.required:
            pytest.fail(found.reason, pytrace=False)
        pytest.skip(found.reason)
    with ControlPlane(tmp_path / "plane", found.binaries) as plane:
        env = {key: value for key, value in os.environ.items() if not key.startswith("KUBECONFIG")}
        applied = await asyncio.to_thread(
            subprocess.run,
            ["kubectl", f"--kubeconfig={plane.admin_kubeconfig}", "apply", "-f", str(CRD_FILE)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        controller = ControllerProcess(str(plane.admin_kubeconfig), "http://127.0.0.1:9", tmp_path / "c.log")
        controller.start()
        try:

            async def ready() -> bool:
                assert controller.process is not None and controller.process.popen is not None
                assert controller.process.popen.poll() is None, f"exited:\n{controller.log_tail()}"
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{controller.port}/readyz") as response,
                ):
                    return response.status == 200

            await eventually(ready, within=90, interval=0.2, what="the controller's /readyz")
        finally:
            assert controller.stop() == 0, controller.log_tail()
