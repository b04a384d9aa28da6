"""`flagman demo` (`make demo`): the Blue/Green tutorial, end to end, on the local sandbox.

Starts the sandbox (API server, runtime; with `--control-plane real` a real Kubernetes control plane and the
node agent) in a private mount namespace, installs the Flagger CRDs, the podinfo
and load tester kustomizations and the controller with its Prometheus (the tutorial's `helm upgrade -i`; with
`--install process` the controller runs as a local process next to the sandbox's own Prometheus), applies
the tutorial's Canary with short intervals, and follows it with `kubectl flagman` (docs/release-control.md)
instead of `kubectl get/describe` while it
1. promotes podinfo 3.1.1 (smoke test, load test, metric checks, promotion), then
2. rolls back podinfo 3.1.2 while HTTP 500s are generated against podinfo-canary.test, then, beyond the
   tutorial, with the post-promotion analysis on and the version of every response recorded,
3. aborts, retries and promotes podinfo 3.1.3 with `kubectl flagman` (its post-promotion analysis passes),
4. promotes podinfo 3.1.4 by hand and rolls it back to the warm 3.1.3 when HTTP 500s hit it after its
   promotion.
Everything is torn down at the end; the exit status says whether the story played out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sandbox.demo_visibility import DemoVisibility
from sandbox.runtime.kube import EVENTS, Kube, KubeError, Obj, Resource
from sandbox.runtime.podman_images import (
    POD_RUNTIMES,
    PodmanImages,
    PodmanUnavailable,
    default_pod_runtime,
    pod_runtime_error,
)
from sandbox.up import NAMESPACE_MARKER, Sandbox, SandboxError, SandboxSettings, in_private_namespace_argv

REPO_ROOT = Path(__file__).resolve().parents[1]
CANARIES = Resource("/apis/flagger.app/v1beta1", "canaries", "Canary", "flagger.app/v1beta1")
CRD_FILE = REPO_ROOT / "kustomize" / "base" / "flagman" / "crd.yaml"
PODINFO_KUSTOMIZATION = REPO_ROOT / "kustomize" / "podinfo"
TESTER_KUSTOMIZATION = REPO_ROOT / "kustomize" / "tester"
PROMETHEUS_URL = "http://flagger-prometheus.flagger:9090"
HELM = REPO_ROOT / ".tools" / "bin" / "helm"
CHART = REPO_ROOT / "charts" / "flagman"
#: `--install`: `helm` (the command's default) runs the tutorial's `helm upgrade -i` (controller pod + the
#: chart's Prometheus pod); `process` runs the controller as a local process next to the sandbox's own
#: Prometheus. `DemoSettings` keeps `process` as its default for programmatic callers.
INSTALL_MODES = ("process", "helm")
#: The controller's `controller.api.options.POST_PROMOTION_ANNOTATION` (the sandbox imports no controller).
POST_PROMOTION_ANNOTATION = "flagman.app/post-promotion-iterations"
#: 3.1.4's post-promotion analysis, which fails: ends at the threshold, long before these iterations.
FAILING_POST_PROMOTION_ITERATIONS = 60
#: `--control-plane`: the API server emulator (fast, the default) or etcd + kube-apiserver +
#: kube-controller-manager + kube-scheduler built by `make control-plane`, with the node agent.
CONTROL_PLANES = ("emulator", "real")


class DemoFailed(Exception):
    pass


@dataclass(frozen=True)
class DemoSettings:
    interval: str = "2s"
    iterations: int = 5
    #: Failed checks before rollback: the tutorial's 2.
    threshold: int = 2
    timeout_seconds: float = 600.0
    #: Of the sandbox's own Prometheus, or with `--install helm` of the chart's (`prometheus.scrapeInterval`,
    #: Flagger's 5s by default): a new canary pod has a request rate within a couple of scrapes, so the
    #: demo's 2s analysis interval keeps the tutorial's threshold.
    scrape_interval: str = "1s"
    min_analysis_interval: str = "1s"
    load_test_duration: str = "1m"
    second_octet: int = 43
    state_dir: Path | None = None
    keep_state: bool = False
    install: str = "process"
    control_plane: str = "emulator"
    #: `flagman.app/post-promotion-iterations` for the release of 3.1.3 (3.1.4's fails, at most 60).
    post_promotion_iterations: int = 5
    #: `podman`: the controller and load tester pods run from the images `make images` built.
    pod_runtime: str = "process"

    @property
    def real(self) -> bool:
        return self.control_plane == "real"


def runnable_package(name: str) -> bool:
    """Whether `python -m name` would run, found without importing it (the layering rule)."""
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return any((Path(location) / "__main__.py").is_file() for location in locations)


def missing_pieces(install: str = "process", control_plane: str = "emulator") -> list[str]:
    """What the demo needs that is not there yet, each with who or what provides it."""
    missing = []
    if control_plane == "real":
        from sandbox.controlplane import find_binaries, why_missing

        if find_binaries() is None:
            missing.append(why_missing())
        if shutil.which("ip") is None or shutil.which("nsenter") is None:
            missing.append("ip (iproute2) and nsenter (util-linux), for the node's network namespaces")
        if os.geteuid() != 0:
            missing.append("root (the node agent makes network namespaces)")
    if install == "helm":
        if not os.access(HELM, os.X_OK):
            missing.append(f"{HELM.relative_to(REPO_ROOT)} (make tools)")
        if not (CHART / "Chart.yaml").is_file():
            missing.append(f"{CHART.relative_to(REPO_ROOT)}/Chart.yaml (the controller's chart)")
    if not CRD_FILE.is_file():
        missing.append(f"{CRD_FILE.relative_to(REPO_ROOT)} (the Flagger CRDs)")
    for kustomization in (PODINFO_KUSTOMIZATION, TESTER_KUSTOMIZATION):
        if not (kustomization / "kustomization.yaml").is_file():
            missing.append(f"{kustomization.relative_to(REPO_ROOT)}/kustomization.yaml")
    for package, what in (("controller", "the controller"), ("loadtester", "the load tester")):
        if not runnable_package(package):
            missing.append(f"python -m {package} ({what})")
    for tool, hint in (
        ("kubectl", "kubectl on PATH"),
        ("prometheus", "prometheus (make tools)"),
        ("hey", "hey (make tools)"),
        ("curl", "curl"),
        ("unshare", "unshare (util-linux)"),
    ):
        if shutil.which(tool) is None:
            missing.append(hint)
    return missing


def tutorial_images() -> list[str]:
    """The controller image the chart installs and the load tester image kustomize/tester names."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    images = [f"{values['image']['repository']}:{values['image']['tag']}"]
    kustomization = yaml.safe_load((TESTER_KUSTOMIZATION / "kustomization.yaml").read_text())
    for image in kustomization.get("images") or []:
        images.append(f"{image.get('newName') or image['name']}:{image.get('newTag', 'latest')}")
    return images


def missing_for_podman() -> list[str]:
    """What `--pod-runtime podman` needs: podman and the images the tutorial installs."""
    try:
        podman = PodmanImages.find("demo")
    except PodmanUnavailable as exc:
        return [str(exc)]
    return [
        f"{image} in podman's image store (make images)"
        for image in tutorial_images()
        if not podman.has_image(image)
    ]


def canary_manifest(settings: DemoSettings) -> Obj:
    """The tutorial's Canary, with the analysis sped up for a demo."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 60,
            "autoscalerRef": {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
            },
            "service": {"port": 9898, "portDiscovery": True},
            "analysis": {
                "interval": settings.interval,
                "threshold": settings.threshold,
                "iterations": settings.iterations,
                "metrics": [
                    {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
                    {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "30s"},
                ],
                "webhooks": [
                    {
                        "name": "smoke-test",
                        "type": "pre-rollout",
                        "url": "http://flagger-loadtester.test/",
                        "timeout": "15s",
                        "metadata": {
                            "type": "bash",
                            "cmd": "curl -sd 'anon' http://podinfo-canary.test:9898/token | grep token",
                        },
                    },
                    {
                        "name": "load-test",
                        "url": "http://flagger-loadtester.test/",
                        "timeout": "5s",
                        "metadata": {
                            "type": "cmd",
                            "cmd": f"hey -z {settings.load_test_duration} -q 10 -c 2 http://podinfo-canary.test:9898/",
                        },
                    },
                ],
            },
        },
    }


def helm_install_args(settings: DemoSettings) -> list[str]:
    """The tutorial's `helm upgrade -i`, with the chart path and the demo's short intervals.

    The chart's values pass the controller's lower bound for analysis intervals as an env fallback
    (`FLAGMAN_MIN_ANALYSIS_INTERVAL`) and the demo's scrape interval to the chart's Prometheus
    (`prometheus.scrapeInterval`); nothing else differs from the tutorial's command.
    """
    return [
        "upgrade",
        "-i",
        "flagger",
        str(CHART),
        "--namespace",
        "flagger",
        "--create-namespace",
        "--set",
        "prometheus.install=true",
        "--set",
        "meshProvider=kubernetes",
        "--set",
        "env[0].name=FLAGMAN_MIN_ANALYSIS_INTERVAL",
        "--set-string",
        f"env[0].value={settings.min_analysis_interval}",
        "--set-string",
        f"prometheus.scrapeInterval={settings.scrape_interval}",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


class Demo:
    def __init__(self, settings: DemoSettings, state_dir: Path) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.sandbox_settings = SandboxSettings(
            state_dir=state_dir,
            second_octet=settings.second_octet,
            scrape_interval=settings.scrape_interval,
            # with helm, the chart installs Prometheus (and its `flagger-prometheus` Service) as a pod
            prometheus=settings.install != "helm",
            pod_runtime=settings.pod_runtime,
        )
        self.step = "starting"
        self.controller: subprocess.Popen[bytes] | None = None
        self.started_in_pod = False
        self.kube: Kube | None = None
        #: With `--control-plane real`: the control plane and its node (`sandbox.node.cluster`).
        self.real_dir = state_dir / "real"
        self.seen_events: set[str] = set()
        self.last_canary_row: tuple[Any, ...] | None = None

    # -- output ------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        print(f"==> {message}", flush=True)

    def begin(self, step: str) -> None:
        self.step = step
        self.say(step)

    # -- kubectl -----------------------------------------------------------------------------
    async def kubectl(self, *args: str, stdin: str | None = None, quiet: bool = False) -> str:
        return await self.run_tool("kubectl", *args, stdin=stdin, quiet=quiet)

    async def helm(self, *args: str) -> str:
        return await self.run_tool(str(HELM), *args)

    def tool_env(self) -> dict[str, str]:
        """KUBECONFIG plus private helm directories, so the demo leaves nothing in the user's home."""
        helm_home = self.state_dir / "helm"
        return {
            **os.environ,
            # `kubectl flagman` finds the plugin installed next to this Python (kubectl's plugin lookup).
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }

    async def run_tool(self, tool: str, *args: str, stdin: str | None = None, quiet: bool = False) -> str:
        process = await asyncio.create_subprocess_exec(
            tool,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.tool_env(),
        )
        output, _ = await process.communicate(stdin.encode() if stdin is not None else None)
        text = output.decode(errors="replace")
        if process.returncode != 0:
            name = Path(tool).name
            raise DemoFailed(f"`{name} {' '.join(args)}` failed:\n{text.strip()}")
        if not quiet and text.strip():
            print("   " + text.strip().replace("\n", "\n   "), flush=True)
        return text

    async def wait_for_crds(self, attempts: int = 10) -> None:
        """`kubectl wait --for=condition=established`, again while the real API server has not yet written the
        new CRD's first status (kubectl then fails at once with "conditions accessor error")."""
        for attempt in range(attempts):
            try:
                await self.kubectl(
                    "wait", "--for=condition=established", "crd/canaries.flagger.app", "--timeout=30s"
                )
                return
            except DemoFailed:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)

    @property
    def kubeconfig(self) -> Path:
        if self.settings.real:
            return self.real_dir / "control-plane" / "kubeconfigs" / "admin.kubeconfig"
        return self.sandbox_settings.kubeconfig

    @property
    def pod_log_dir(self) -> Path:
        return self.real_dir / "node" / "logs" if self.settings.real else self.state_dir / "logs"

    # -- the controller ----------------------------------------------------------------------
    def start_controller(self) -> None:
        log_file = self.state_dir / "controller.log"
        argv = [
            sys.executable,
            "-m",
            "controller",
            f"-kubeconfig={self.sandbox_settings.kubeconfig}",
            f"-metrics-server={PROMETHEUS_URL}",
            "-mesh-provider=kubernetes",
            f"-min-analysis-interval={self.settings.min_analysis_interval}",
            f"-port={free_port()}",
            "-log-level=info",
        ]
        with open(log_file, "ab") as output:
            self.controller = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "KUBECONFIG": str(self.sandbox_settings.kubeconfig)},
                start_new_session=True,
            )
        self.say(f"controller started (pid {self.controller.pid}, log {log_file})")

    def check_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is not None:
            raise DemoFailed(
                f"the controller exited with {self.controller.returncode}:\n{self.controller_log_tail()}"
            )

    def controller_log_file(self) -> Path | None:
        """The controller's log: its own file, or with helm the newest `flagger` pod's container log."""
        if self.settings.install != "helm":
            return self.state_dir / "controller.log"
        logs = sorted(
            (self.pod_log_dir / "flagger").glob("flagger-*/flagger.log"),
            key=lambda p: p.stat().st_mtime,
        )
        return logs[-1] if logs else None

    def controller_log_tail(self, lines: int = 25) -> str:
        log_file = self.controller_log_file()
        try:
            text = log_file.read_text(errors="replace") if log_file else ""
        except OSError:
            text = ""
        if not text:
            return "(no controller log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop_controller(self) -> None:
        if self.controller is None or self.controller.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.controller.pid, signal.SIGTERM)
        try:
            self.controller.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.controller.pid, signal.SIGKILL)
            self.controller.wait()

    # -- watching the canary -----------------------------------------------------------------
    async def canary(self) -> Obj | None:
        assert self.kube is not None
        try:
            return await self.kube.get(CANARIES, "test", "podinfo")
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    async def show_new_events(self) -> None:
        assert self.kube is not None
        events = (await self.kube.list(EVENTS, "test")).get("items") or []
        events.sort(key=lambda e: (e.get("lastTimestamp") or e.get("eventTime") or "", e["metadata"]["name"]))
        for event in events:
            involved = event.get("involvedObject") or {}
            if involved.get("kind") != "Canary":
                continue
            uid = f"{event['metadata'].get('uid')}/{event.get('count', 1)}"
            if uid in self.seen_events:
                continue
            self.seen_events.add(uid)
            print(f"   event  {event.get('type', ''):<8} {event.get('message', '')}", flush=True)

    async def show_canaries_if_changed(self, canary: Obj) -> None:
        status = canary.get("status") or {}
        row = (
            status.get("phase"),
            status.get("canaryWeight"),
            status.get("iterations"),
            status.get("failedChecks"),
        )
        if row != self.last_canary_row:
            self.last_canary_row = row
            await self.kubectl("get", "canaries", "--all-namespaces")

    async def wait_for_phase(self, phases: Sequence[str], *, during: str, fail_on: Sequence[str] = ()) -> Obj:
        """Follow the canary until its phase is one of `phases`; fail early on one of `fail_on`."""
        self.step = during
        while True:
            self.check_controller()
            await self.show_new_events()
            canary = await self.canary()
            if canary is not None:
                await self.show_canaries_if_changed(canary)
                phase = (canary.get("status") or {}).get("phase")
                if phase in phases:
                    return canary
                if phase in fail_on:
                    raise DemoFailed(f"the canary ended {phase} while {during}")
            await asyncio.sleep(0.5)

    async def generate_errors(self, stop: asyncio.Event, service: str = "podinfo-canary") -> int:
        """`watch curl http://podinfo-canary.test:9898/status/500`, faster."""
        if self.settings.real:
            return await self.generate_errors_in_pod(stop, service)
        sent = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not stop.is_set():
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with session.get(f"http://{service}.test:9898/status/500") as response:
                        await response.read()
                        sent += 1
                await asyncio.sleep(0.05)
        return sent

    async def generate_errors_in_pod(self, stop: asyncio.Event, service: str) -> int:
        """The tutorial's way: `kubectl exec` into the load tester pod and curl from there (ClusterIPs
        live in the node's network namespaces, out of this process's reach)."""
        loop = f"n=0; while true; do curl -s -o /dev/null http://{service}.test:9898/status/500; "
        loop += 'n=$((n+1)); echo "$n"; sleep 0.05; done'
        process = await asyncio.create_subprocess_exec(
            "kubectl", "-n", "test", "exec", "deploy/flagger-loadtester", "--", "sh", "-c", loop,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=self.tool_env(),
        )  # fmt: skip
        sent = 0

        async def count() -> None:
            nonlocal sent
            assert process.stdout is not None
            while line := await process.stdout.readline():
                sent = int(line) if line.strip().isdigit() else sent

        counter = asyncio.create_task(count())
        await stop.wait()
        process.terminate()  # kubectl closes the stream: the agent kills the loop
        await process.wait()
        counter.cancel()
        return sent

    async def primary_version(self) -> str:
        if self.settings.real:
            return await self.primary_version_in_cluster()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get("http://podinfo.test:9898/version") as response,
        ):
            body = await response.json()
            return str(body.get("version"))

    async def primary_version_in_cluster(self, attempts: int = 3) -> str:
        """curl from the load tester pod, as the tutorial does. Right after a promotion the Service's
        EndpointSlices may still list the old primary pods for a moment (on a real cluster too): a
        timeout is shown with the Service's EndpointSlices and the pods, then retried; the demo fails
        only when every attempt failed."""
        for attempt in range(1, attempts):
            try:
                return await self.curl_primary_version()
            except DemoFailed as failed:
                self.say(f"podinfo.test did not answer (attempt {attempt} of {attempts}): {failed}")
                await self.kubectl("-n", "test", "get", "endpointslices,pods", "-o", "wide")
        return await self.curl_primary_version()

    async def curl_primary_version(self) -> str:
        text = await self.kubectl(
            "-n", "test", "exec", "deploy/flagger-loadtester", "--",
            "curl", "-s", "-m", "5", "http://podinfo.test:9898/version", quiet=True,
        )  # fmt: skip
        return str(json.loads(text).get("version"))

    # -- kubectl flagman --------------------------------------------------------------------
    async def flagman(self, *args: str, expect: int = 0) -> str:
        """`kubectl flagman -n test ...` as a user types it, its output shown line by line as it comes
        (`status --watch` follows a release); DemoFailed unless it exits with `expect`."""
        self.say(f"kubectl flagman -n test {' '.join(args)}")
        process = await asyncio.create_subprocess_exec(
            "kubectl", "flagman", "-n", "test", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=self.tool_env(),
        )  # fmt: skip
        assert process.stdout is not None
        lines = []
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            lines.append(text)
            print("   " + text, flush=True)
        code = await process.wait()
        if code != expect:
            raise DemoFailed(f"`kubectl flagman {' '.join(args)}` exited {code}, not {expect}")
        return "\n".join(lines)

    def watch_release(self, expect: int) -> asyncio.Task[str]:
        """`kubectl flagman status podinfo --watch --release`: 0 when the release Succeeded, 3 Failed."""
        timeout = f"{max(60, int(self.settings.timeout_seconds))}s"
        return asyncio.create_task(
            self.flagman("status", "podinfo", "--watch", "--release", "--timeout", timeout, expect=expect)
        )

    async def wait_for_condition(self, kind: str, reason: str, *, during: str) -> None:
        self.step = during
        while True:
            self.check_controller()
            canary = await self.canary() or {}
            conditions = (canary.get("status") or {}).get("conditions") or []
            if any(c.get("type") == kind and c.get("reason") == reason for c in conditions):
                return
            await asyncio.sleep(0.2)

    async def record_versions(self, stop: asyncio.Event) -> list[str]:
        """The version of every response of http://podinfo.test:9898/version (what users get), in order."""
        if self.settings.real:
            return await self.record_versions_in_pod(stop)
        versions: list[str] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not stop.is_set():
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError, ValueError):
                    async with session.get("http://podinfo.test:9898/version") as response:
                        versions.append(str((await response.json()).get("version")))
                await asyncio.sleep(0.05)
        return versions

    async def record_versions_in_pod(self, stop: asyncio.Event) -> list[str]:
        loop = "while true; do curl -s -m 2 http://podinfo.test:9898/version; echo; sleep 0.05; done"
        process = await asyncio.create_subprocess_exec(
            "kubectl", "-n", "test", "exec", "deploy/flagger-loadtester", "--", "sh", "-c", loop,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=self.tool_env(),
        )  # fmt: skip
        versions: list[str] = []

        async def collect() -> None:
            assert process.stdout is not None
            while line := await process.stdout.readline():
                with contextlib.suppress(ValueError, AttributeError):
                    versions.append(str(json.loads(line).get("version")))

        collector = asyncio.create_task(collect())
        await stop.wait()
        process.terminate()
        await process.wait()
        collector.cancel()
        return versions

    # -- the story ---------------------------------------------------------------------------
    async def run(self) -> None:
        if self.settings.real:
            await self.run_on_real_control_plane()
            return
        async with Sandbox(self.sandbox_settings) as sandbox:
            self.kube = sandbox.kube
            prometheus = "comes with the chart" if self.settings.install == "helm" else PROMETHEUS_URL
            self.say(f"sandbox up: API server {self.sandbox_settings.api_url}, Prometheus {prometheus}")
            if self.settings.pod_runtime == "podman":
                self.say("pods of the controller and load tester images run as podman containers of them")
            visibility = DemoVisibility(self.sandbox_settings.kubeconfig, self.state_dir)
            self.say(f"follow the rollouts in a browser: open {visibility.start_dashboard()}")
            try:
                await self.story()
                self.say(f"report of the last analysis: {await visibility.write_report('podinfo', 'test')}")
            finally:
                visibility.stop_dashboard()
                self.stop_controller()

    async def run_on_real_control_plane(self) -> None:
        from sandbox.controlplane import find_binaries
        from sandbox.node.cluster import RealCluster

        binaries = find_binaries()
        if binaries is None:
            raise DemoFailed("no control-plane binaries (make control-plane)")
        self.step = "starting the control plane and the node"
        cluster = RealCluster(
            self.real_dir,
            binaries,
            progress=lambda message: self.say(message),
            pod_runtime=self.settings.pod_runtime,
        )
        await asyncio.to_thread(cluster.start)
        try:
            self.kube = await Kube.from_kubeconfig(str(cluster.kubeconfig))
            self.say(f"real control plane up: API server {cluster.plane.url}, node {cluster.node_name}")
            await self.kubectl("get", "nodes", "-o", "wide")
            await self.story()
        finally:
            if self.kube is not None:
                await self.kube.close()
            self.say("tearing down the node and the control plane")
            await asyncio.to_thread(cluster.stop)

    async def install_with_helm(self) -> None:
        self.begin(
            "helm upgrade -i flagger charts/flagman --namespace flagger "
            "--set prometheus.install=true --set meshProvider=kubernetes "
            f"--set prometheus.scrapeInterval={self.settings.scrape_interval}"
        )
        await self.helm(*helm_install_args(self.settings))
        for deployment in ("flagger", "flagger-prometheus"):
            await self.kubectl(
                "-n", "flagger", "rollout", "status", f"deployment/{deployment}", "--timeout=120s"
            )
        await self.kubectl("-n", "flagger", "get", "pods", "-o", "wide")
        self.started_in_pod = True

    async def story(self) -> None:
        s = self.settings
        self.begin("installing the Flagger CRDs")
        await self.kubectl("apply", "-f", str(CRD_FILE))
        await self.wait_for_crds()

        self.begin(
            "kubectl create ns test; kubectl apply -k kustomize/podinfo; kubectl apply -k kustomize/tester"
        )
        await self.kubectl("create", "ns", "test")
        await self.kubectl("apply", "-k", str(PODINFO_KUSTOMIZATION))
        await self.kubectl("apply", "-k", str(TESTER_KUSTOMIZATION))
        await self.kubectl("-n", "test", "rollout", "status", "deployment/podinfo", "--timeout=120s")
        await self.kubectl(
            "-n", "test", "rollout", "status", "deployment/flagger-loadtester", "--timeout=120s"
        )

        if s.install == "helm":
            await self.install_with_helm()
        else:
            self.begin("starting the controller")
            self.start_controller()

        self.begin(f"applying the tutorial's Canary (interval {s.interval}, {s.iterations} iterations)")
        await self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(canary_manifest(s)))
        # Instead of `watch kubectl get canaries`: the plugin follows the Canary until it is Initialized.
        await self.flagman("status", "podinfo", "--watch", "--timeout", "300s")
        await self.kubectl("-n", "test", "get", "deployments,services")

        self.begin("kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:3.1.1")
        self.step = "promoting podinfo 3.1.1"
        await self.kubectl(
            "-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.1"
        )
        # Instead of `kubectl describe canary/podinfo`: follow the release; exit 0 once it Succeeded.
        await self.watch_release(expect=0)
        await self.expect_version("3.1.1", "after the promotion")
        await self.flagman("get", "-A")

        self.begin(
            "kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:3.1.2, with HTTP 500s"
        )
        await self.kubectl(
            "-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.2"
        )
        await self.wait_for_phase(["Progressing"], during="waiting for the analysis of 3.1.2 to start")
        self.say("generating HTTP 500s: curl http://podinfo-canary.test:9898/status/500")
        self.step = "rolling back podinfo 3.1.2"
        stop = asyncio.Event()
        errors = asyncio.create_task(self.generate_errors(stop))
        try:
            await self.watch_release(expect=3)  # exit code 3: the release Failed
        finally:
            stop.set()
            sent = await errors
        version = await self.expect_version("3.1.1", "after the rollback")
        self.say(f"rollback done after {sent} HTTP 500s: podinfo.test still serves podinfo {version}")
        await self.flagman("status", "podinfo")  # what `kubectl describe canary/podinfo` showed
        await self.kubectl("-n", "test", "get", "deployments")
        if s.real:
            await self.kubectl("-n", "test", "get", "pods", "-o", "wide")
            await self.kubectl("-n", "test", "get", "endpointslices")
        await self.release_control()

    async def expect_version(self, wanted: str, when: str) -> str:
        version = await self.primary_version()
        if version != wanted:
            raise DemoFailed(f"{when} podinfo.test serves version {version}, not {wanted}")
        if when == "after the promotion":
            self.say(f"promotion done: http://podinfo.test:9898 serves podinfo {version}")
        return version

    async def release_control(self) -> None:
        """Beyond the tutorial, with `kubectl flagman` (docs/release-control.md): abort, retry and promote
        a release without gates or spec edits; then post-promotion analysis under real traffic, which
        passes for 3.1.3 and rolls 3.1.4 back to the warm 3.1.3 when the promoted version fails."""
        s = self.settings
        iterations = str(s.post_promotion_iterations)
        self.begin(f"kubectl -n test annotate canary podinfo {POST_PROMOTION_ANNOTATION}={iterations}")
        await self.kubectl(
            "-n", "test", "annotate", "canary", "podinfo", f"{POST_PROMOTION_ANNOTATION}={iterations}"
        )
        self.say("recording the version of every response of http://podinfo.test:9898/version")
        stop_recording = asyncio.Event()
        recording = asyncio.create_task(self.record_versions(stop_recording))
        try:
            self.begin("kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:3.1.3")
            await self.kubectl(
                "-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.3"
            )
            await self.wait_for_phase(["Progressing"], during="waiting for the analysis of 3.1.3 to start")
            self.step = "aborting, retrying and promoting podinfo 3.1.3"
            await self.flagman("abort", "podinfo")
            await self.flagman("retry", "podinfo")
            await self.flagman("promote", "podinfo", "--timeout", "180s")  # waits for ready canary pods
            await self.flagman("status", "podinfo", "--watch", "--timeout", "300s")  # post-promotion, then 0
            await self.expect_version("3.1.3", "after the promotion")

            self.begin(
                "kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:3.1.4,"
                " promoted by hand, with HTTP 500s after its promotion"
            )
            # Verified longer: Prometheus needs some scrapes of the new primary pods to see their errors; the
            # analysis ends at the threshold anyway.
            await self.kubectl(
                "-n", "test", "annotate", "--overwrite", "canary", "podinfo",
                f"{POST_PROMOTION_ANNOTATION}={FAILING_POST_PROMOTION_ITERATIONS}",
            )  # fmt: skip
            watch = self.watch_release(expect=3)
            await self.kubectl(
                "-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.4"
            )
            # An urgent fix, promoted by hand: the post-promotion analysis still verifies it. (Its canary
            # analysis would see the HTTP 500s 3.1.2's canary pods served within the metrics' 1m window.)
            await self.wait_for_phase(["Progressing"], during="waiting for the analysis of 3.1.4 to start")
            await self.flagman("promote", "podinfo", "--timeout", "180s")
            await self.wait_for_condition(
                "PostPromotionAnalysis", "Running", during="waiting for the post-promotion analysis of 3.1.4"
            )
            self.say("generating HTTP 500s on the promoted version: curl http://podinfo.test:9898/status/500")
            stop = asyncio.Event()
            errors = asyncio.create_task(self.generate_errors(stop, "podinfo"))
            try:
                self.step = "rolling podinfo 3.1.4 back after its promotion"
                await watch
            finally:
                stop.set()
                sent = await errors
            self.say(f"{sent} HTTP 500s sent to the promoted version")
            await asyncio.sleep(1)  # a second of traffic after the rollback
        finally:
            stop_recording.set()
            versions = await recording
        seen = [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v]
        self.say(f"versions served, in order: {' -> '.join(seen)} ({len(versions)} responses)")
        if "3.1.4" not in seen or seen[-1] != "3.1.3":
            raise DemoFailed(f"traffic did not go back to 3.1.3 after the post-promotion rollback: {seen}")
        self.say("post-promotion rollback done: the traffic is back on podinfo 3.1.3")
        await self.wait_for_condition(
            "InstantRollback", "Restored", during="waiting for podinfo-primary to run 3.1.3 again"
        )
        await self.expect_version("3.1.3", "after the primary was restored")
        await self.flagman("status", "podinfo")


async def run_demo(settings: DemoSettings) -> int:
    state_dir = settings.state_dir or Path(tempfile.mkdtemp(prefix="flagman-demo-"))
    demo = Demo(settings, state_dir)
    started = time.monotonic()
    interrupted: list[int] = []
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()

    def interrupt(signum: int) -> None:
        interrupted.append(signum)
        main_task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        # Tear everything down on Ctrl-C or SIGTERM: pods, Prometheus and the controller run in sessions of
        # their own, so they would outlive a demo that just died.
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            await demo.run()
    except asyncio.CancelledError:
        if not interrupted:
            raise
        print(f"demo interrupted while {demo.step}; everything was torn down", file=sys.stderr)
        return 130
    except TimeoutError:
        print(
            f"demo FAILED: timed out after {settings.timeout_seconds:g}s while {demo.step}\n"
            f"controller log (last lines):\n{demo.controller_log_tail()}",
            file=sys.stderr,
        )
        return 1
    except (DemoFailed, SandboxError) as exc:
        print(f"demo FAILED while {demo.step}: {exc}", file=sys.stderr)
        if demo.controller is not None or demo.started_in_pod:
            print(f"controller log (last lines):\n{demo.controller_log_tail()}", file=sys.stderr)
        return 1
    finally:
        if not settings.keep_state and settings.state_dir is None:
            shutil.rmtree(state_dir, ignore_errors=True)
    print(
        f"demo finished in {time.monotonic() - started:.0f}s: promoted 3.1.1, rolled back 3.1.2, promoted"
        " 3.1.3 with kubectl flagman, rolled 3.1.4 back after its promotion",
        flush=True,
    )
    return 0


def run_forwarding_signals(argv: list[str]) -> int:
    """Run `argv` and pass SIGINT/SIGTERM on to it, so the demo inside tears down before we exit."""
    child = subprocess.Popen(argv)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def parse_args(argv: Sequence[str]) -> DemoSettings:
    parser = argparse.ArgumentParser(
        prog="flagman demo", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    parser.add_argument("--interval", default="2s", help="the Canary's analysis interval (default 2s)")
    parser.add_argument("--iterations", type=int, default=5, help="Blue/Green iterations (default 5)")
    parser.add_argument("--threshold", type=int, default=2, help="failed checks before rollback (default 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument(
        "--scrape-interval",
        default="1s",
        help="Prometheus scrape interval, the sandbox's or the chart's (default 1s)",
    )
    parser.add_argument("--min-analysis-interval", default="1s", help="the controller's lower bound")
    parser.add_argument("--load-test-duration", default="1m", help="hey -z value for the load test")
    parser.add_argument(
        "--post-promotion-iterations",
        type=int,
        default=5,
        help="post-promotion analysis of 3.1.3, in analysis intervals (default 5; 3.1.4's is 60, ended by"
        " its failure)",
    )
    parser.add_argument("--second-octet", type=int, default=43, help="the sandbox uses 127.N.0.0/16")
    parser.add_argument("--state-dir", type=Path, help="keep the sandbox files here (default: a temp dir)")
    parser.add_argument(
        "--install",
        choices=INSTALL_MODES,
        default="helm",
        help="how the controller runs: `helm` (the default: the tutorial's helm upgrade -i of "
        "charts/flagman, controller and Prometheus as pods) or `process` (a local process next to the "
        "sandbox's own Prometheus; faster)",
    )
    parser.add_argument(
        "--control-plane",
        choices=CONTROL_PLANES,
        default="emulator",
        help="`emulator` (the default: the sandbox's API server) or `real` (etcd, kube-apiserver, "
        "kube-controller-manager and kube-scheduler from `make control-plane`, with the node agent; root)",
    )
    parser.add_argument(
        "--pod-runtime",
        choices=POD_RUNTIMES,
        default=default_pod_runtime(),
        help="`process` (the default, or $FLAGMAN_POD_RUNTIME: every pod a local process) or `podman` (the "
        "controller and load tester pods run from the images `make images` built; with --install helm)",
    )
    args = parser.parse_args(list(argv))
    if args.post_promotion_iterations < 1:
        parser.error("--post-promotion-iterations must be at least 1")
    if (error := pod_runtime_error(args.pod_runtime)) is not None:
        parser.error(error)
    if args.pod_runtime == "podman" and args.install == "process":
        parser.error("--pod-runtime podman runs the chart's controller pod: it needs --install helm")
    if args.control_plane == "real" and args.install == "process":
        parser.error("--control-plane real needs --install helm (a local controller cannot reach ClusterIPs)")
    return DemoSettings(
        interval=args.interval,
        iterations=args.iterations,
        threshold=args.threshold,
        timeout_seconds=args.timeout,
        scrape_interval=args.scrape_interval,
        min_analysis_interval=args.min_analysis_interval,
        load_test_duration=args.load_test_duration,
        second_octet=args.second_octet,
        post_promotion_iterations=args.post_promotion_iterations,
        state_dir=args.state_dir,
        install=args.install,
        control_plane=args.control_plane,
        pod_runtime=args.pod_runtime,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    settings = parse_args(args)
    missing = missing_pieces(settings.install, settings.control_plane)
    if settings.pod_runtime == "podman":
        missing += missing_for_podman()
    if missing:
        print("demo cannot run; missing pieces:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    if os.environ.get(NAMESPACE_MARKER) != "1":
        # Cluster DNS needs a private mount namespace; re-run this command inside one.
        return run_forwarding_signals(
            in_private_namespace_argv([sys.executable, "-m", "sandbox.demo", *args])
        )
    return asyncio.run(run_demo(settings))


if __name__ == "__main__":
    sys.exit(main())
