"""The sandbox with `--pod-runtime podman` (`make images && make test-images`): the tutorial's install paths
with the images users run, on the emulator and on the real control plane (its node agent; skipped without
`make control-plane`, failed instead with FLAGMAN_REQUIRE_REAL_BACKEND=1, as in CI).

`flagman sandbox up --pod-runtime podman`, then as the tutorial: the CRDs, `kubectl apply -k` of podinfo and
the load tester, `helm upgrade -i` of the controller's chart. The controller and load tester pods run as
podman containers of the built images (uid 10001, read-only root, no capabilities), podinfo as a process:

- a Canary reaches Initialized, driven by the controller container;
- a pre-rollout webhook's bash task runs in the load tester container: it writes its uid to the container's
  /tmp (the pod's emptyDir), where `kubectl exec` finds 10001 (the process runtime would run it as the
  sandbox's own user, on the host's /tmp);
- `kubectl exec` and `kubectl logs` reach the containers; a pod of a missing image reports ErrImagePull
  naming `make images`; `sandbox down` leaves no container.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.controlplane.testing import availability
from tests.deploy.tooling import CRD_SOURCE, KUSTOMIZE, REPO, helm
from tests.images.engine import Engine

pytestmark = [pytest.mark.images, pytest.mark.timeout(240)]

DEFAULT_LOADTESTER_IMAGE = "ghcr.io/flagman/loadtester:0.1.0"
SANDBOX_LABEL = "io.flagman.sandbox"
#: Where the pre-rollout task leaves its uid: the load tester pod's emptyDir at /tmp.
WEBHOOK_MARK = "/tmp/pre-rollout-ran"


@dataclass
class PodmanSandbox:
    control_plane: str
    #: What the sandbox's containers are labelled with: its pod runtime's state directory.
    label: Path
    env: dict[str, str]
    engine: Engine

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        completed = subprocess.run(
            ["kubectl", *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=120
        )
        if check:
            assert completed.returncode == 0, f"kubectl {' '.join(args)}: {completed.stderr}"
        return completed.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def containers(self, *filters: str) -> list[dict[str, Any]]:
        """This sandbox's podman containers (`podman ps`), narrowed by `label=...` filters."""
        options = [f"--filter=label={SANDBOX_LABEL}={self.label}"]
        options += [f"--filter=label={label}" for label in filters]
        listed = self.engine.run("ps", "--all", "--format=json", *options)
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout or "[]"))


def flagman(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagman", *args], capture_output=True, text=True, env=env, timeout=180
    )


def wait_for(check: Callable[[], Any], what: str, within: float, diagnose: Callable[[], str]) -> Any:
    deadline = time.monotonic() + within
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}\n{diagnose()}")
        time.sleep(0.3)
    return found


@pytest.fixture(scope="module", params=["emulator", "real"])
def sandbox(
    request: pytest.FixtureRequest,
    engine: Engine,
    controller_image: str,
    loadtester_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PodmanSandbox]:
    if engine.name != "podman":
        pytest.skip(f"the sandbox's podman pod runtime needs podman (the image engine here is {engine.name})")
    control_plane = str(request.param)
    state_dir = tmp_path_factory.mktemp(f"podman-{control_plane}").resolve()
    common = ["--state-dir", str(state_dir)]
    if control_plane == "real":
        found = availability()
        if found.binaries is None:
            if found.required:
                pytest.fail(found.reason, pytrace=False)
            pytest.skip(found.reason)
        label = state_dir / "node"  # the node agent's state directory
    else:
        common += ["--second-octet", str(random.randint(100, 250))]
        label = state_dir
    env = {**engine.environ, "PATH": f"{Path(helm()).parent}:{os.environ['PATH']}"}
    up = ["sandbox", "up", f"--control-plane={control_plane}", "--pod-runtime=podman", *common]
    started = flagman(*up, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "controller and load tester from their images (podman)" in started.stdout
    running = PodmanSandbox(
        control_plane, label, {**env, "KUBECONFIG": str(state_dir / "kubeconfig")}, engine
    )
    try:
        yield running
    finally:
        stopped = flagman("sandbox", "down", *common, env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert running.containers() == [], "sandbox down left podman containers"


def canary() -> dict[str, Any]:
    """The tutorial's Blue/Green Canary without metrics, with a pre-rollout bash task on the load tester."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 9898, "portDiscovery": True},
            "analysis": {
                "interval": "2s",
                "threshold": 2,
                "iterations": 2,
                "metrics": [],
                "webhooks": [
                    {
                        "name": "smoke-test",
                        "type": "pre-rollout",
                        "url": "http://flagger-loadtester.test/",
                        "timeout": "15s",
                        "metadata": {"type": "bash", "cmd": f"id -u > {WEBHOOK_MARK}"},
                    }
                ],
            },
        },
    }


def install_as_the_tutorial(s: PodmanSandbox, controller_image: str, loadtester_image: str) -> None:
    s.kubectl("apply", "-f", str(CRD_SOURCE))
    # retried: kubectl wait fails at once on a CRD whose status has no conditions yet (the real API server)
    established = ("wait", "--for=condition=established", "crd/canaries.flagger.app", "--timeout=10s")
    wait_for(lambda: "condition met" in s.kubectl(*established, check=False), "the CRDs", 30, lambda: "")
    s.kubectl("create", "ns", "test")
    s.kubectl("apply", "-k", str(KUSTOMIZE / "podinfo"))
    # `kubectl apply -k kustomize/tester`, with the image `make images` tagged (the same unless overridden)
    tester = s.kubectl("kustomize", str(KUSTOMIZE / "tester"))
    s.kubectl("apply", "-f", "-", stdin=tester.replace(DEFAULT_LOADTESTER_IMAGE, loadtester_image))
    repository, tag = controller_image.rsplit(":", 1)
    installed = subprocess.run(
        [
            helm(), "upgrade", "-i", "flagger", str(REPO / "charts" / "flagman"), "--namespace", "flagger",
            "--create-namespace", "--set", "meshProvider=kubernetes",
            "--set", "metricsServer=http://flagger-prometheus.flagger:9090",
            "--set", f"image.repository={repository}", "--set-string", f"image.tag={tag}",
            "--set", "env[0].name=FLAGMAN_MIN_ANALYSIS_INTERVAL", "--set-string", "env[0].value=1s",
        ],
        capture_output=True, text=True, env=s.env, timeout=120,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    for namespace, deployment in (
        ("test", "podinfo"),
        ("test", "flagger-loadtester"),
        ("flagger", "flagger"),
    ):
        s.kubectl("-n", namespace, "rollout", "status", f"deployment/{deployment}", "--timeout=120s")


def test_controller_and_loadtester_pods_run_from_the_images(
    sandbox: PodmanSandbox, controller_image: str, loadtester_image: str
) -> None:
    s = sandbox
    install_as_the_tutorial(s, controller_image, loadtester_image)

    # the two pods are podman containers of the images, locked down as the manifests ask
    for namespace, image in (("flagger", controller_image), ("test", loadtester_image)):
        (container,) = s.containers(f"io.kubernetes.pod.namespace={namespace}")
        assert container["Image"] == image and container["State"] == "running", container
        pod = s.get("-n", namespace, "pod", container["Labels"]["io.kubernetes.pod.name"])
        (status,) = pod["status"]["containerStatuses"]
        assert status["containerID"] == f"podman://{container['Names'][0]}"
        assert status["ready"] and status["restartCount"] == 0, status
        (config,) = json.loads(s.engine.run("inspect", container["Names"][0]).stdout)
        assert config["Config"]["User"] == "10001:10001"
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["HostConfig"]["CapDrop"] and not config["EffectiveCaps"], config["EffectiveCaps"]
        # kubectl exec runs in the container (podman exec), not beside it: the image's /app, its user
        exec_ = s.kubectl(
            "-n", namespace, "exec", pod["metadata"]["name"], "--", "sh", "-c", "id -u; ls /app"
        )
        assert exec_.split()[0] == "10001", exec_
    # podinfo stays a local process
    for podinfo in s.get("-n", "test", "pods", "-l", "app=podinfo")["items"]:
        assert podinfo["status"]["containerStatuses"][0]["containerID"].startswith("sandbox://")

    s.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(canary()))

    def phase() -> str:
        return str((s.get("-n", "test", "canary", "podinfo").get("status") or {}).get("phase", ""))

    def logs() -> str:
        controller = s.kubectl("-n", "flagger", "logs", "deployment/flagger", "--tail=30", check=False)
        tester = s.kubectl("-n", "test", "logs", "deployment/flagger-loadtester", "--tail=20", check=False)
        return f"phase {phase()!r}\ncontroller log:\n{controller}\nload tester log:\n{tester}"

    wait_for(lambda: phase() == "Initialized", "the Canary to be Initialized", 90, logs)
    assert s.get("-n", "test", "deployment", "podinfo")["spec"]["replicas"] == 0
    assert s.get("-n", "test", "deployment", "podinfo-primary")["status"].get("readyReplicas") == 1
    assert "Initialization done! podinfo.test" in s.kubectl("-n", "flagger", "logs", "deployment/flagger")

    # a new revision: the pre-rollout webhook's bash task runs in the load tester container
    s.kubectl("-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.1")

    def webhook_passed() -> bool:
        events = s.kubectl("-n", "test", "get", "events", "--field-selector=involvedObject.kind=Canary")
        return "Pre-rollout check smoke-test passed" in events

    wait_for(webhook_passed, "the pre-rollout webhook to pass", 90, logs)
    mark = s.kubectl("-n", "test", "exec", "deployment/flagger-loadtester", "--", "cat", WEBHOOK_MARK)
    assert mark.strip() == "10001"


def test_a_missing_image_is_an_image_pull_error_naming_make_images(sandbox: PodmanSandbox) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unbuilt", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "ghcr.io/flagman/controller:never-built"}]},
    }
    sandbox.kubectl("apply", "-f", "-", stdin=json.dumps(pod))

    def waiting() -> dict[str, Any] | None:
        statuses = sandbox.get("-n", "default", "pod", "unbuilt").get("status", {}).get("containerStatuses")
        return (statuses or [{}])[0].get("state", {}).get("waiting")

    state = wait_for(
        waiting, "the pod's pull error", 60, lambda: sandbox.kubectl("describe", "pod", "unbuilt")
    )
    assert state["reason"] in ("ErrImagePull", "ImagePullBackOff"), state
    events = sandbox.kubectl("get", "events", "--field-selector=involvedObject.name=unbuilt")
    assert "build it with `make images`" in events, events
    assert sandbox.containers("io.kubernetes.pod.name=unbuilt") == []
