"""The built images, started for real (`make images && make test-images`): each as uid 10001 with a
read-only root filesystem and no capabilities, through its Flagger entrypoint (`./flagger`, `./loadtester`).

- the controller container, against the sandbox API server on loopback (host network, kubeconfig mounted),
  takes a Canary for a tiny Deployment to Initialized: primary created, target scaled to zero;
- the load tester container runs a bash task (200), a failing one (500), a queued `cmd` hey (202) whose
  requests reach a server of the test, and a helm task that talks to the API server;
- ghz, grpc_health_probe, wrk and bats run in the load tester image;
- each image holds only its own deployable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.kube.api import CANARIES, DEPLOYMENTS, SERVICES, KubeApi
from sandbox.apiserver.testing import ApiServer
from tests.controller.integration.harness import RolloutSimulator
from tests.controller.kube.support import create_namespace, eventually, install_crds
from tests.images.engine import Engine, mount

pytestmark = [pytest.mark.images, pytest.mark.timeout(300)]

KUBECONFIG = "/etc/flagman/kubeconfig"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, within: float, diagnose: Callable[[], str]) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{diagnose()}")
        time.sleep(0.2)


def readable_copy(source: str | Path, directory: Path) -> Path:
    """A copy uid 10001 can read inside the container (the mounted file keeps its host mode)."""
    target = directory / Path(source).name
    shutil.copyfile(source, target)
    target.chmod(0o644)
    return target


# --- what each image carries -------------------------------------------------------------------------

FIND_PACKAGES = """
import importlib.util
candidates = ("flagman", "controller", "loadtester", "sandbox", "goconv")
print(*[name for name in candidates if importlib.util.find_spec(name)])
"""
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
names = [
    module.name
    for package in sys.argv[1:]
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
]
for name in names:
    if not name.endswith(".__main__"):  # those run the program
        importlib.import_module(name)
print(len(names))
"""
DISTRIBUTIONS = """
import importlib.metadata
for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
    print(f"{dist.metadata['Name'].lower().replace('_', '-')}=={dist.version}")
"""
REPO = Path(__file__).parents[2]
PROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.parametrize(
    ("image_fixture", "entrypoint", "packages", "absent"),
    [
        ("controller_image", "./flagger", ["flagman", "controller", "goconv"], ["loadtester", "sandbox"]),
        ("loadtester_image", "./loadtester", ["flagman", "loadtester", "goconv"], ["controller", "sandbox"]),
    ],
)
def test_each_image_carries_only_its_own_deployable(
    engine: Engine,
    request: pytest.FixtureRequest,
    image_fixture: str,
    entrypoint: str,
    packages: list[str],
    absent: list[str],
) -> None:
    image = request.getfixturevalue(image_fixture)
    config: Any = engine.image_config(image)
    assert config["Config"]["Entrypoint"] == [entrypoint]
    assert config["Config"]["User"] == "10001:10001"
    found = engine.python(image, FIND_PACKAGES)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == packages
    # every module of what is there imports: nothing it needs was left out
    imported = engine.python(image, IMPORT_EVERY_MODULE.replace("sys.argv[1:]", repr(packages)))
    assert imported.returncode == 0, imported.stderr
    assert int(imported.stdout) > 5
    for command in absent:
        refused = engine.once(image, f"flagman {command} --help")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"'{command}' is not part of this installation" in refused.stderr


@pytest.mark.parametrize(
    ("image_fixture", "lock"), [("controller_image", "controller"), ("loadtester_image", "loadtester")]
)
def test_the_python_dependencies_are_the_locked_ones(
    engine: Engine, request: pytest.FixtureRequest, image_fixture: str, lock: str
) -> None:
    listed = engine.python(request.getfixturevalue(image_fixture), DISTRIBUTIONS)
    assert listed.returncode == 0, listed.stderr
    lock_text = (REPO / "images" / lock / "requirements.txt").read_text()
    locked = {line.split(" ")[0] for line in lock_text.splitlines() if "==" in line and line[0] != " "}
    # nothing more (not even pip), nothing less; besides flagman itself, whose version the image carries
    assert set(listed.stdout.split()) == locked | {f"flagman=={PROJECT_VERSION}"}


@pytest.mark.parametrize("image_fixture", ["controller_image", "loadtester_image"])
def test_the_image_reports_the_projects_version(
    engine: Engine, request: pytest.FixtureRequest, image_fixture: str
) -> None:
    reported = engine.python(
        request.getfixturevalue(image_fixture),
        "from importlib.metadata import version; print(version('flagman'))",
    )
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.strip() == PROJECT_VERSION


# --- the controller ----------------------------------------------------------------------------------


def read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def tiny_deployment() -> dict[str, Any]:
    labels = {"app": "hello"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": "test", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "hello", "image": "example.org/hello:1", "ports": [
                    {"name": "http", "containerPort": 8080}]}]},
            },
        },
    }  # fmt: skip


def blue_green_canary() -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "hello", "namespace": "test"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 80, "targetPort": 8080},
            "analysis": {"interval": "10s", "threshold": 2, "iterations": 2, "metrics": []},
        },
    }


async def test_the_controller_image_initializes_a_canary(
    engine: Engine, controller_image: str, apiserver: ApiServer, tmp_path: Path
) -> None:
    api = await KubeApi.connect(apiserver.kubeconfig, user_agent="flagman-image-tests")
    rollouts = RolloutSimulator(api)  # the emulator has no deployment controller
    try:
        await install_crds(api)
        await create_namespace(api, "test")
        await rollouts.start()
        await api.create(DEPLOYMENTS, "test", tiny_deployment())
        await api.create(CANARIES, "test", blue_green_canary())
        port = free_port()
        kubeconfig = readable_copy(apiserver.kubeconfig, tmp_path)
        container = engine.start(
            controller_image,
            f"-kubeconfig={KUBECONFIG}",
            "-mesh-provider=kubernetes",
            "-metrics-server=http://127.0.0.1:9",
            f"-port={port}",
            "-log-level=info",
            options=mount(kubeconfig, KUBECONFIG),
        )

        async def initialized() -> dict[str, Any] | None:
            body = await api.request("GET", CANARIES.path("test", "hello"))
            return body if (body.get("status") or {}).get("phase") == "Initialized" else None

        try:
            await eventually(initialized, within=90, interval=0.2, what="the Canary to be Initialized")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- container log ---\n{engine.logs(container)}") from None
        primary = await api.request("GET", DEPLOYMENTS.path("test", "hello-primary"))
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.org/hello:1"
        target = await api.request("GET", DEPLOYMENTS.path("test", "hello"))
        assert target["spec"]["replicas"] == 0
        for service in ("hello", "hello-primary", "hello-canary"):
            await api.request("GET", SERVICES.path("test", service))

        # Flagger's probes (wget in the container) and metrics, served by the running controller
        probe = await asyncio.to_thread(
            engine.exec, container, "wget", "--quiet", "--tries=1", "--timeout=4", "-O-",
            f"http://localhost:{port}/healthz",
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        metrics = await asyncio.to_thread(read, f"http://127.0.0.1:{port}/metrics")
        assert 'flagger_canary_status{name="hello",namespace="test"}' in metrics

        # locked down: uid 10001, no capabilities, nothing writable
        identity = await asyncio.to_thread(
            engine.exec, container, "sh", "-c", "id -u; grep CapEff /proc/self/status; touch /app/x /tmp/x"
        )
        assert identity.stdout.split()[:3] == ["10001", "CapEff:", "0000000000000000"], identity.stdout
        assert identity.returncode != 0 and "Read-only file system" in identity.stderr
        assert await asyncio.to_thread(engine.stop, container) == 0
        assert "controller stopped" in engine.logs(container)
    finally:
        await rollouts.stop()
        await api.close()


# --- the load tester ---------------------------------------------------------------------------------


class Counting(BaseHTTPRequestHandler):
    """The target of `hey` and `wrk`: counts what reaches it."""

    hits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with Counting.lock:
            Counting.hits += 1
        with contextlib.suppress(ConnectionError):  # wrk and hey hang up when their time is over
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    Counting.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def task(kind: str, command: str) -> dict[str, Any]:
    return {
        "name": "hello",
        "namespace": "test",
        "phase": "Progressing",
        "metadata": {"type": kind, "cmd": command},
    }


def test_the_loadtester_image_runs_tasks(
    engine: Engine, loadtester_image: str, apiserver: ApiServer, target: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kubeconfig = readable_copy(apiserver.kubeconfig, tmp_path)
    container = engine.start(
        loadtester_image,
        f"-port={port}",
        "-host=127.0.0.1",  # the host network: stay on loopback
        "-log-level=info",
        "-timeout=1h",
        # /tmp as the charts give it (an emptyDir): helm's and kubectl's caches; the rest stays read-only
        options=(
            *mount(kubeconfig, KUBECONFIG),
            "--tmpfs",
            "/tmp:rw,size=64m",
            "-e",
            f"KUBECONFIG={KUBECONFIG}",
        ),
    )
    wait_for(lambda: healthy(url), "the load tester's /healthz", 60, lambda: engine.logs(container))

    hello = task("bash", "echo hello from $(id -u)")
    hello["metadata"]["returnCmdOutput"] = "true"
    assert post(url, hello) == (200, "hello from 10001\n")
    status, text = post(url, task("bash", "echo broken >&2; exit 3"))
    assert status == 500, text
    status, text = post(url, task("cmd", f"hey -z 1s -q 5 -c 1 {target}"))
    assert status == 202, text
    wait_for(
        lambda: Counting.hits > 0, "hey's requests to reach the target", 30, lambda: engine.logs(container)
    )

    seen = len(apiserver.request_log)
    status, text = post(url, task("helm", "list --namespace test"))
    assert status == 200, text
    helm_requests = [r for r in list(apiserver.request_log)[seen:] if r.user_agent.startswith("Helm/")]
    assert helm_requests, "helm did not reach the API server"
    status, text = post(url, task("helmv3", "status no-such-release --namespace test"))
    assert status == 500, text
    assert engine.stop(container) == 0


def test_the_grpc_and_load_tools_run_in_the_loadtester_image(
    engine: Engine, loadtester_image: str, target: str, tmp_path: Path
) -> None:
    closed = free_port()
    versions = engine.once(
        loadtester_image,
        "set -e; exec 2>&1; ghz --version; grpc_health_probe -version; wrk --version | head -1 || true;"
        "bats --version; helm version --short; kubectl version --client; hey | head -1; jq --version",
        options=("--tmpfs", "/tmp"),  # bats insists on a writable TMPDIR even for --version
    )
    assert versions.returncode == 0, versions.stdout + versions.stderr
    for expected in (
        "0.120.0",
        "v0.4.35",
        "wrk debian/4.1.0",
        "Bats 1.8.2",
        "v3.17.3",
        "Client Version: v1.31.9",
    ):
        assert expected in versions.stdout, versions.stdout
    assert "Usage: hey" in versions.stdout and "jq-1.6" in versions.stdout, versions.stdout
    # grpc_health_probe tries for real: nothing listens there, so "failed to connect" (exit 2)
    probe = engine.once(loadtester_image, f"grpc_health_probe -addr=127.0.0.1:{closed} -connect-timeout=1s")
    assert probe.returncode == 2, probe.stdout + probe.stderr
    assert "failed to connect" in probe.stdout + probe.stderr
    # ghz likewise: it dials the address and reports the refusal
    ghz = engine.once(
        loadtester_image, f"ghz --insecure --call grpc.health.v1.Health/Check -n 1 -z 1s 127.0.0.1:{closed}"
    )
    assert ghz.returncode == 1, ghz.stdout + ghz.stderr
    assert f"dial tcp 127.0.0.1:{closed}: connect: connection refused" in ghz.stdout + ghz.stderr
    # wrk loads the test's server
    before = Counting.hits
    wrk = engine.once(loadtester_image, f"wrk -t1 -c1 -d1s {target}")
    assert wrk.returncode == 0, wrk.stdout + wrk.stderr
    assert Counting.hits > before
    # bats runs a suite (mounted read-only, as a ConfigMap would be); it needs a writable TMPDIR
    suite = tmp_path / "smoke.bats"
    suite.write_text(f'@test "target answers" {{\n  run curl -fsS {target}\n  [ "$output" = "ok" ]\n}}\n')
    suite.chmod(0o644)
    bats = engine.once(
        loadtester_image,
        "bats /tests/smoke.bats",
        options=(*mount(suite, "/tests/smoke.bats"), "--tmpfs", "/tmp"),
    )
    assert bats.returncode == 0, bats.stdout + bats.stderr
    assert bats.stdout.splitlines() == ["1..1", "ok 1 target answers"]
