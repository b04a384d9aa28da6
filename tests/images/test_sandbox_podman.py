"""The sandbox with `--pod-runtime podman` (`make images && make test-images`): the tutorial's install paths
with the images users run.

`flagman sandbox up --pod-runtime podman`, then as the tutorial: the CRDs, `kubectl apply -k` of podinfo and
the load tester, `helm upgrade -i` of the controller's chart. The controller and load tester pods run as
podman containers of the built images (uid 10001, read-only root, no capabilities), podinfo as a process:

- a Canary reaches Initialized, driven by the controller container;
- a pre-rollout webhook's bash task runs in the load tester container: its request reaches a server of
  the test as uid 10001 (the process runtime would run it as the sandbox's own user);
- `kubectl exec` and `kubectl logs` reach the containers; a pod of a missing image reports ErrImagePull
  naming `make images`; `sandbox down` leaves no container.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tooling import CRD_SOURCE, KUSTOMIZE, REPO, helm
from tests.images.engine import Engine

pytestmark = [pytest.mark.images, pytest.mark.timeout(240)]

DEFAULT_LOADTESTER_IMAGE = "ghcr.io/flagman/loadtester:0.1.0"
SANDBOX_LABEL = "io.flagman.sandbox"


@dataclass
class PodmanSandbox:
    state_dir: Path
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
        options = [f"--filter=label={SANDBOX_LABEL}={self.state_dir}"]
        options += [f"--filter=label={label}" for label in filters]
        listed = self.engine.run("ps", "--all", "--format=json", *options)
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout or "[]"))


def flagman(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagman", *args], capture_output=True, text=True, env=env, timeout=120
    )


def wait_for(check: Callable[[], Any], what: str, within: float, diagnose: Callable[[], str]) -> Any:
    deadline = time.monotonic() + within
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}\n{diagnose()}")
        time.sleep(0.3)
    return found


@pytest.fixture(scope="module")
def sandbox(
    engine: Engine, controller_image: str, loadtester_image: str, tmp_path_factory: Any
) -> Iterator[PodmanSandbox]:
    if engine.name != "podman":
        pytest.skip(f"the sandbox's podman pod runtime needs podman (the image engine here is {engine.name})")
    state_dir = tmp_path_factory.mktemp("podman-sandbox")
    common = ["--state-dir", str(state_dir), "--second-octet", str(random.randint(100, 250))]
    env = {**engine.environ, "PATH": f"{Path(helm()).parent}:{os.environ['PATH']}"}
    started = flagman("sandbox", "up", "--pod-runtime", "podman", *common, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "controller and load tester from their images (podman)" in started.stdout
    running = PodmanSandbox(state_dir, {**env, "KUBECONFIG": str(state_dir / "kubeconfig")}, engine)
    try:
        yield running
    finally:
        stopped = flagman("sandbox", "down", *common, env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert running.containers() == [], "sandbox down left podman containers"


class Recorder(BaseHTTPRequestHandler):
    """What the load tester's webhook task requests: its path says who ran it."""

    paths: list[str] = []

    def do_GET(self) -> None:
        Recorder.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def canary(recorder: str) -> dict[str, Any]:
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
                        "metadata": {"type": "bash", "cmd": f"curl -fsS {recorder}/from-uid-$(id -u)"},
                    }
                ],
            },
        },
    }


def test_controller_and_loadtester_pods_run_from_the_images(
    sandbox: PodmanSandbox, controller_image: str, loadtester_image: str, recorder: str
) -> None:
    s = sandbox
    s.kubectl("apply", "-f", str(CRD_SOURCE))
    s.kubectl("wait", "--for=condition=established", "crd/canaries.flagger.app", "--timeout=30s")
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
        s.kubectl("-n", namespace, "rollout", "status", f"deployment/{deployment}", "--timeout=90s")

    # the two pods are podman containers of the images, locked down as the manifests ask
    for namespace, image in (("flagger", controller_image), ("test", loadtester_image)):
        (container,) = s.containers(f"io.kubernetes.pod.namespace={namespace}")
        assert container["Image"] == image and container["State"] == "running", container
        pod = s.get("-n", namespace, "pod", container["Labels"]["io.kubernetes.pod.name"])
        (status,) = pod["status"]["containerStatuses"]
        assert status["containerID"] == f"podman://{container['Names'][0]}"
        assert status["ready"] and status["restartCount"] == 0, status
        inspected = s.engine.run("inspect", container["Names"][0])
        (config,) = json.loads(inspected.stdout)
        assert config["Config"]["User"] == "10001:10001"
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["HostConfig"]["CapDrop"] and not config["EffectiveCaps"], config["EffectiveCaps"]
        # kubectl exec runs in the container (podman exec), not beside it
        exec_ = s.kubectl(
            "-n", namespace, "exec", pod["metadata"]["name"], "--", "sh", "-c", "id -u; ls /app"
        )
        assert exec_.split()[0] == "10001", exec_
    # podinfo stays a local process
    (podinfo,) = [p for p in s.get("-n", "test", "pods", "-l", "app=podinfo")["items"]]
    assert podinfo["status"]["containerStatuses"][0]["containerID"].startswith("sandbox://")

    s.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(canary(recorder)))

    def phase() -> str:
        return str((s.get("-n", "test", "canary", "podinfo").get("status") or {}).get("phase", ""))

    def controller_log() -> str:
        return f"phase {phase()!r}; controller log:\n" + s.kubectl(
            "-n", "flagger", "logs", "deployment/flagger", "--tail=30", check=False
        )

    wait_for(lambda: phase() == "Initialized", "the Canary to be Initialized", 90, controller_log)
    assert s.get("-n", "test", "deployment", "podinfo")["spec"]["replicas"] == 0
    assert s.get("-n", "test", "deployment", "podinfo-primary")["status"].get("readyReplicas") == 1
    log = s.kubectl("-n", "flagger", "logs", "deployment/flagger")
    assert "Initialization done! podinfo.test" in log, log

    # a new revision: the pre-rollout webhook's bash task runs in the load tester container
    s.kubectl("-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.1")
    wait_for(
        lambda: Recorder.paths,
        "the load tester's webhook task to reach the test's server",
        90,
        lambda: controller_log() + "\nload tester log:\n" + s.kubectl(
            "-n", "test", "logs", "deployment/flagger-loadtester", "--tail=20", check=False
        ),
    )  # fmt: skip
    assert Recorder.paths[0] == "/from-uid-10001", Recorder.paths


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
        waiting, "the pod's pull error", 30, lambda: sandbox.kubectl("describe", "pod", "unbuilt")
    )
    assert state["reason"] in ("ErrImagePull", "ImagePullBackOff"), state
    events = sandbox.kubectl("get", "events", "--field-selector=involvedObject.name=unbuilt")
    assert "build it with `make images`" in events, events
    assert sandbox.containers("io.kubernetes.pod.name=unbuilt") == []
