"""`flagman sandbox up|down|status|kubeconfig|exec`: the whole sandbox as one supervised process.

`up` starts a supervisor in a private mount namespace (`unshare --mount`) where the cluster hosts file is
bind-mounted over /etc/hosts. The supervisor serves the API server, runs the runtime (pods, Services, DNS)
and a real Prometheus (not with `--no-prometheus`, which leaves `flagger-prometheus.flagger` to the chart's
`prometheus.install=true`), and records itself in `<state dir>/sandbox.json`. Every pod process inherits the
namespace, so `podinfo-canary.test` resolves inside the sandbox; `kubectl exec` runs a command in a pod's
context (the API server hands it to the runtime) and `flagman sandbox exec -- CMD` runs one in the namespace.
The host's own /etc/hosts is never touched.

`up --control-plane=real` runs the real Kubernetes control plane instead of the emulator (etcd,
kube-apiserver, controller-manager, scheduler from `make control-plane`) and the node agent that runs its
pods (`sandbox.node`; `sandbox.node.serve` is their supervisor, recorded the same way, in a private mount
namespace too: the node's network namespaces are mounted only there and vanish with it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox.apiserver.app import make_app
from sandbox.apiserver.keys import POD_LOGS, RUNTIME_HOOKS, ServerConfig
from sandbox.apiserver.testing import kubeconfig_text
from sandbox.prometheus import Prometheus, PrometheusSettings, register_service
from sandbox.runtime import Runtime, RuntimeSettings
from sandbox.runtime.kube import Kube
from sandbox.runtime.logs import PodLogReader
from sandbox.runtime.podman_images import (
    POD_RUNTIMES,
    PodmanImages,
    PodmanUnavailable,
    default_pod_runtime,
    pod_runtime_error,
)
from sandbox.runtime.processes import with_hosts_file

log = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(os.environ.get("FLAGMAN_SANDBOX_DIR", "/tmp/flagman-sandbox"))
#: Set inside the private mount namespace, so a re-exec does not nest another one.
NAMESPACE_MARKER = "FLAGMAN_SANDBOX_NAMESPACE"
API_PORT = 6443
CONTROL_PLANES = ("emulator", "real")
PODMAN_PODS = "controller and load tester from their images (podman), others as processes"


class SandboxError(Exception):
    pass


@dataclass(frozen=True)
class SandboxSettings:
    state_dir: Path = DEFAULT_STATE_DIR
    second_octet: int = 42
    scrape_interval: str = "5s"
    kubernetes_minor: int = 31
    #: Run the sandbox's own Prometheus and its `flagger-prometheus` Service in namespace `flagger`. Off for
    #: the tutorial's `helm upgrade -i ... --set prometheus.install=true`, whose chart creates that Service.
    prometheus: bool = True
    #: `emulator` (the sandbox API server and runtime, default) or `real` (sandbox.controlplane).
    control_plane: str = "emulator"
    #: `process` (default) or `podman`: the controller and load tester pods from Flagman's images.
    pod_runtime: str = "process"

    @property
    def api_address(self) -> str:
        return f"127.{self.second_octet}.0.1"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_address}:{API_PORT}"

    @property
    def prometheus_address(self) -> str:
        return f"127.{self.second_octet}.0.9"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def record(self) -> Path:
        return self.state_dir / "sandbox.json"

    @property
    def runtime(self) -> RuntimeSettings:
        return RuntimeSettings(
            state_dir=self.state_dir,
            second_octet=self.second_octet,
            pod_dns=True,  # pods get their namespace's hosts file (short names) inside the sandbox's own
            extra_env={"KUBECONFIG": str(self.kubeconfig)},
            pod_runtime=self.pod_runtime,
        )


def bind_hosts_file(hosts_file: Path) -> None:
    """Make this process (and its children) see `hosts_file` as /etc/hosts. Needs a private mount ns."""
    if os.environ.get(NAMESPACE_MARKER) != "1":
        raise SandboxError("refusing to bind-mount /etc/hosts outside the sandbox's private mount namespace")
    result = subprocess.run(
        ["mount", "--bind", str(hosts_file), "/etc/hosts"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SandboxError(
            f"cannot bind-mount the cluster hosts file over /etc/hosts: {result.stderr.strip()} "
            "(the sandbox needs root or an unprivileged user namespace for its cluster DNS)"
        )


def in_private_namespace_argv(argv: list[str]) -> list[str]:
    """Run `argv` in a new private mount namespace (marked, so it does not nest)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "env", f"{NAMESPACE_MARKER}=1", *argv]


class Sandbox:
    """API server + runtime + Prometheus in this process's event loop (inside the private namespace)."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.runner: web.AppRunner | None = None
        self.kube: Kube | None = None
        self.runtime: Runtime | None = None
        self.prometheus: Prometheus | None = None

    async def start(self) -> None:
        settings = self.settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        app = make_app(ServerConfig(minor=settings.kubernetes_minor))
        logs = PodLogReader(settings.runtime.log_dir)
        app[POD_LOGS] = logs
        app[RUNTIME_HOOKS].log_follow = logs.follow
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, settings.api_address, API_PORT).start()
        except OSError as exc:
            await self.stop()
            raise SandboxError(f"cannot serve the API server on {settings.api_url}: {exc}") from exc
        settings.kubeconfig.write_text(kubeconfig_text(settings.api_url))
        self.kube = Kube.from_url(settings.api_url)
        try:
            self.runtime = Runtime(self.kube, settings.runtime)
        except PodmanUnavailable as exc:
            await self.stop()
            raise SandboxError(str(exc)) from None
        await self.runtime.start()
        app[RUNTIME_HOOKS].exec = self.runtime.exec  # kubectl exec: commands run in this mount namespace
        bind_hosts_file(settings.runtime.hosts_file)
        if settings.prometheus:
            self.prometheus = Prometheus(
                PrometheusSettings(
                    address=settings.prometheus_address,
                    state_dir=settings.state_dir / "prometheus",
                    targets_file=settings.runtime.scrape_targets_file,
                    scrape_interval=settings.scrape_interval,
                )
            )
            try:
                await self.prometheus.start()
            except Exception:
                await self.stop()
                raise
            await register_service(self.kube, settings.prometheus_address)

    def describe(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "apiserver": self.settings.api_url,
            "kubeconfig": str(self.settings.kubeconfig),
            "prometheus": f"http://{self.settings.prometheus_address}:9090" if self.prometheus else None,
            "hosts": str(self.settings.runtime.hosts_file),
            "logs": str(self.settings.runtime.log_dir),
            "pod_runtime": self.settings.pod_runtime,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    async def stop(self) -> None:
        if self.prometheus is not None:
            await self.prometheus.stop()
            self.prometheus = None
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        if self.kube is not None:
            await self.kube.close()
            self.kube = None
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


# -- the supervisor ------------------------------------------------------------------------------
async def serve(settings: SandboxSettings) -> int:
    """Run until SIGTERM/SIGINT, recording where everything is in sandbox.json."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with Sandbox(settings) as sandbox:
        settings.record.write_text(json.dumps(sandbox.describe(), indent=2))
        print(f"sandbox ready: {settings.api_url}", flush=True)
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(FileNotFoundError):
                settings.record.unlink()
    return 0


def read_record(settings: SandboxSettings) -> dict[str, Any] | None:
    """The running sandbox's record, or None (a stale record of a dead supervisor is removed)."""
    try:
        record: dict[str, Any] = json.loads(settings.record.read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(int(record["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError):
        with contextlib.suppress(FileNotFoundError):
            settings.record.unlink()
        return None
    return record


def supervisor_argv(settings: SandboxSettings) -> list[str]:
    if settings.control_plane == "real":
        return in_private_namespace_argv(
            [
                *(sys.executable, "-m", "sandbox.node.serve", "--state-dir", str(settings.state_dir)),
                f"--pod-runtime={settings.pod_runtime}",
            ]
        )
    return in_private_namespace_argv(
        [
            sys.executable,
            "-m",
            "sandbox.up",
            "--state-dir",
            str(settings.state_dir),
            "--second-octet",
            str(settings.second_octet),
            "--scrape-interval",
            settings.scrape_interval,
            "--kubernetes-minor",
            str(settings.kubernetes_minor),
            *([] if settings.prometheus else ["--no-prometheus"]),
            f"--pod-runtime={settings.pod_runtime}",
        ]
    )


def up(settings: SandboxSettings, timeout_seconds: float | None = None) -> int:
    record = read_record(settings)
    if record is not None:
        print(f"sandbox already running (pid {record['pid']}): {record['apiserver']}")
        print(f"export KUBECONFIG={record['kubeconfig']}")
        return 0
    real = settings.control_plane == "real"
    if (error := pod_runtime_error(settings.pod_runtime)) is not None:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    if settings.pod_runtime == "podman":
        try:
            PodmanImages.find(str(settings.state_dir))
        except PodmanUnavailable as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 1
    if real:
        from sandbox.controlplane import find_binaries, why_missing

        if find_binaries() is None:
            print(f"sandbox: {why_missing()}", file=sys.stderr)
            return 1
    # The real control plane takes seconds to minutes (a loaded machine); its supervisor prints progress.
    timeout_seconds = timeout_seconds or (300.0 if real else 60.0)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.state_dir / "supervisor.log"
    if real:
        log_file.write_bytes(b"")  # progress is shown from this run's lines
    shown = 0
    with open(log_file, "ab") as output:
        process = subprocess.Popen(
            supervisor_argv(settings),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if real:
            shown = _show_new_lines(log_file, shown)
        record = read_record(settings)
        if record is not None:
            print(f"sandbox up (pid {record['pid']}): API server {record['apiserver']}")
            if real:
                print(f"  control plane: real Kubernetes {record['version']} (logs: {record['logs']})")
                print(f"  node:          {record['node']} (agent log: {record['agent_log']})")
                print(f"  pod logs:      {record['pod_logs']}")
                if settings.pod_runtime == "podman":
                    print(f"  pods:          {PODMAN_PODS}")
                print(f"export KUBECONFIG={record['kubeconfig']}")
                print("kubectl exec POD -- CMD reaches ClusterIPs and cluster DNS names from inside a pod")
                return 0
            if record["prometheus"]:
                where = f"{record['prometheus']} (flagger-prometheus.flagger:9090 inside the sandbox)"
            else:
                where = "none (--no-prometheus; helm's --set prometheus.install=true brings one)"
            print(f"  prometheus: {where}")
            print(f"  pod logs:   {record['logs']}")
            if record.get("pod_runtime") == "podman":
                print(f"  pods:       {PODMAN_PODS}")
            print(f"export KUBECONFIG={record['kubeconfig']}")
            print("cluster DNS works in pods (kubectl exec POD -- CMD) and in: flagman sandbox exec -- CMD")
            return 0
        if process.poll() is not None:
            print(f"sandbox failed to start (exit {process.returncode}):", file=sys.stderr)
            print(_tail(log_file), file=sys.stderr)
            return 1
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    print(f"sandbox did not start within {timeout_seconds:g}s; see {log_file}", file=sys.stderr)
    return 1


def down(settings: SandboxSettings, timeout_seconds: float | None = None) -> int:
    record = read_record(settings)
    if record is None:
        print("no sandbox is running")
        return 0
    real = record.get("control_plane") == "real"
    timeout_seconds = timeout_seconds or (90.0 if real else 30.0)  # pods, then each component, stop in turn
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print(f"sandbox stopped (pid {pid})")
            return 0
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if real:  # the node's pods run in sessions of their own: end them from their pid records
        config = settings.state_dir / "node" / "agent.json"
        subprocess.run([sys.executable, "-m", "sandbox.node", "--clean-up", str(config)], check=False)
    print(f"sandbox (pid {pid}) did not stop within {timeout_seconds:g}s and was killed", file=sys.stderr)
    return 1


def status(settings: SandboxSettings) -> int:
    record = read_record(settings)
    if record is None:
        print("sandbox: not running")
        return 3
    print(json.dumps(record, indent=2))
    return 0


def kubeconfig(settings: SandboxSettings) -> int:
    record = read_record(settings)
    if record is None:
        print("no sandbox is running (start one with `flagman sandbox up`)", file=sys.stderr)
        return 1
    print(record["kubeconfig"])
    return 0


def exec_in_sandbox(settings: SandboxSettings, command: list[str]) -> int:
    """Run `command` in the sandbox's mount namespace (cluster DNS) with its kubeconfig."""
    record = read_record(settings)
    if record is None:
        print("no sandbox is running (start one with `flagman sandbox up`)", file=sys.stderr)
        return 1
    if not command:
        print("usage: flagman sandbox exec -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    env = {**os.environ, "KUBECONFIG": str(record["kubeconfig"])}
    argv = ["nsenter", "--mount", "--target", str(record["pid"]), "--", *command]
    if record.get("control_plane") == "real":
        # In the node's network namespace (ClusterIPs, pod IPs) with its hosts file; the API server is
        # reached there through the `kubernetes` Service.
        env["KUBECONFIG"] = str(record["kubeconfig_inside"])
        argv = [
            *("nsenter", "--mount", "--target", str(record["mount_namespace_pid"]), "--"),
            *("nsenter", f"--net=/run/netns/{record['network_prefix']}-node", "--"),
            *with_hosts_file(command, Path(record["hosts"])),
        ]
    return subprocess.run(argv, env=env, check=False).returncode


def _show_new_lines(path: Path, shown: int) -> int:
    """Print the supervisor log's lines after the first `shown` ones (its progress); the new count."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return shown
    complete = lines[:-1] if lines and not path.read_bytes().endswith(b"\n") else lines
    for line in complete[shown:]:
        print(f"  {line}", flush=True)
    return max(shown, len(complete))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _settings_from(args: Any) -> SandboxSettings:
    return SandboxSettings(
        state_dir=args.state_dir,
        second_octet=args.second_octet,
        scrape_interval=args.scrape_interval,
        kubernetes_minor=args.kubernetes_minor,
        prometheus=not getattr(args, "no_prometheus", False),  # only `up` and the supervisor have the flag
        control_plane=getattr(args, "control_plane", "emulator"),  # only `up` has the flag
        pod_runtime=getattr(args, "pod_runtime", "process"),  # `up` and the supervisor have it
    )


def _add_common(parser: Any) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where the sandbox keeps its files (default $FLAGMAN_SANDBOX_DIR or {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--second-octet", type=int, default=42, help="use 127.N.0.0/16 (default 42)")
    parser.add_argument("--scrape-interval", default="5s", help="Prometheus scrape interval (default 5s)")
    parser.add_argument("--kubernetes-minor", type=int, default=31, help="minor version /version reports")


def add_pod_runtime(parser: Any) -> None:
    parser.add_argument(
        "--pod-runtime",
        choices=POD_RUNTIMES,
        default=default_pod_runtime(),
        help="process: every pod runs as local processes (default, or $FLAGMAN_POD_RUNTIME); podman: pods of "
        "Flagman's controller and load tester images run as podman containers of the images `make images` "
        "built, the others as processes",
    )


def _add_no_prometheus(parser: Any) -> None:
    parser.add_argument(
        "--no-prometheus",
        action="store_true",
        help="start no Prometheus and no flagger-prometheus Service (for the tutorial's helm install with "
        "--set prometheus.install=true, whose chart creates both)",
    )


def add_subcommands(subparsers: Any) -> None:
    """Register up, down, status, kubeconfig and exec on `flagman sandbox`."""
    commands = {
        "up": ("start the sandbox (API server, runtime, Prometheus) in the background", up),
        "down": ("stop the sandbox and every pod process", down),
        "status": ("show whether the sandbox runs and where", status),
        "kubeconfig": ("print the path of the sandbox's kubeconfig", kubeconfig),
    }
    for name, (help_text, action) in commands.items():
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        _add_common(parser)
        if name == "up":
            _add_no_prometheus(parser)
            add_pod_runtime(parser)
            parser.add_argument(
                "--control-plane",
                choices=CONTROL_PLANES,
                default="emulator",
                help="emulator: the sandbox API server and its pod runtime (default, starts in a second); "
                "real: etcd, kube-apiserver, kube-controller-manager and kube-scheduler built by "
                "`make control-plane`, with the node agent running the pods (root)",
            )
        parser.set_defaults(run=lambda args, action=action: action(_settings_from(args)))
    parser = subparsers.add_parser(
        "exec",
        help="run a command inside the sandbox (cluster DNS names resolve, KUBECONFIG is set)",
        description="run a command inside the sandbox's mount namespace: flagman sandbox exec -- CMD",
    )
    _add_common(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    parser.set_defaults(run=lambda args: exec_in_sandbox(_settings_from(args), _after_dashes(args.command)))


def _after_dashes(command: list[str]) -> list[str]:
    return command[1:] if command[:1] == ["--"] else command


def main(argv: list[str] | None = None) -> int:
    """The supervisor's entry point (`python -m sandbox.up`), run by `up` inside the namespace."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.up")
    _add_common(parser)
    _add_no_prometheus(parser)
    add_pod_runtime(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings_from(args)
    try:
        return asyncio.run(serve(settings))
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
