"""The pod runtime (the sandbox's kubelet): pods become local processes with a real, probed status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.runtime.events import EventRecorder
from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.images import UnknownImage, argv_for
from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import PODS, Kube, KubeError, Obj
from sandbox.runtime.logs import log_path
from sandbox.runtime.objects import is_terminating, timestamp
from sandbox.runtime.pod_discovery import PodDiscoveryTargets
from sandbox.runtime.podhost import EmulatorCredentials, PodCredentials, PodNetwork, merged
from sandbox.runtime.podman_images import PodmanImages
from sandbox.runtime.probes import run_probe
from sandbox.runtime.processes import ContainerProcess, PodContext
from sandbox.runtime.promconfig import ContainerSetupError, prepare
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)

MAX_GRACE_SECONDS = 5.0
#: How long ErrImagePull shows before the kubelet's ImagePullBackOff.
IMAGE_PULL_BACKOFF_SECONDS = 1.0
MAX_RESTART_BACKOFF_SECONDS = 30.0
FIRST_READINESS_RETRY_SECONDS = 1.0
IDLE_WAKEUP_SECONDS = 60.0
STATUS_RETRY_SECONDS = 1.0
#: Environment a container inherits from the runtime: enough to find programs, nothing else.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV")


@dataclass(frozen=True)
class PodEnvironment:
    """Where pods live on this machine and what they can see."""

    kube: Kube
    events: EventRecorder
    network: PodNetwork
    state_dir: Path
    #: Cluster DNS for pods: each pod sees its namespace's hosts file as /etc/hosts (None: the host's).
    hosts: HostsFile | None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: How pods reach the API server (None: a kubeconfig for the emulator at the client's URL).
    credentials: PodCredentials | None = None
    #: Write the `Scheduled` event (the emulator has no scheduler; on a real control plane it writes it).
    announce_scheduling: bool = True
    #: `--pod-runtime podman`: containers of Flagman's own images run from those images (None: every
    #: container is a local process).
    podman: PodmanImages | None = None

    @property
    def pod_credentials(self) -> PodCredentials:
        return self.credentials or EmulatorCredentials(str(self.kube.api.configuration.host))

    @property
    def pids_dir(self) -> Path:
        """One record per running container process, so a restarted runtime leaves no orphans."""
        return self.state_dir / "pids"

    @property
    def discovery_file(self) -> Path:
        """Kubernetes pod discovery for Prometheus pods (`pod_discovery`, `promconfig`)."""
        return self.state_dir / "prometheus" / "targets" / "kubernetes-pods.json"


def container_env(
    container: Obj, pod: Obj, pod_ip: str, host_ip: str = "127.0.0.1", node_name: str = "sandbox"
) -> dict[str, str]:
    """The container's `env`, with the downward-API fields a sandbox can know."""
    meta = pod["metadata"]
    fields = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "status.podIP": pod_ip,
        "status.hostIP": host_ip,
        "spec.nodeName": pod.get("spec", {}).get("nodeName") or node_name,
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
    }
    values: dict[str, str] = {}
    for variable in container.get("env") or []:
        name = variable.get("name")
        if not name:
            continue
        if "value" in variable:
            values[name] = str(variable["value"])
            continue
        field_path = ((variable.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
        if field_path in fields:
            values[name] = fields[field_path]
    return values


@dataclass
class ContainerState:
    spec: Obj
    argv: list[str]
    process: ContainerProcess | None = None
    started_at: str = ""
    ready: bool = False
    successes: int = 0
    failures: int = 0
    next_probe: float = 0.0
    restarts: int = 0
    ever_ready: bool = False
    restart_at: float | None = None
    exit_code: int | None = None
    last_termination: Obj | None = None
    waiter: asyncio.Task[int] | None = None


class PodWorker:
    """Runs one pod: starts its containers, probes them, restarts them, and reports status."""

    def __init__(self, env: PodEnvironment, pod: Obj) -> None:
        self.env = env
        self.pod = pod
        meta = pod["metadata"]
        self.key: Key = (meta.get("namespace", ""), meta["name"])
        self.uid = str(meta.get("uid") or f"{self.key[0]}/{self.key[1]}")
        self.containers: list[ContainerState] = []
        self.pod_ip = ""
        self.changed = asyncio.Event()
        self.transitions: dict[str, tuple[str, str]] = {}
        self.last_status: Obj | None = None
        self.task: asyncio.Task[None] | None = None
        self.context = PodContext()
        self.credential_env: dict[str, str] = {}
        self.attached = False

    @property
    def restart_policy(self) -> str:
        return str(self.pod.get("spec", {}).get("restartPolicy") or "Always")

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"pod {self.key[0]}/{self.key[1]}")

    async def _run(self) -> None:
        try:
            await self._run_pod()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s/%s worker failed", *self.key)

    async def _run_pod(self) -> None:
        specs = list(self.pod.get("spec", {}).get("containers") or [])
        try:
            for container in specs:
                argv_for(container, "0.0.0.0")
        except UnknownImage as exc:
            await self._report_unpullable(specs, str(exc))
            return
        missing = await self.env.podman.missing_image(specs) if self.env.podman is not None else None
        if missing is not None:
            await self._report_unpullable(specs, missing)
            return
        self.attached = True  # before the await: a stop during attach must still detach
        self.pod_ip = await self.env.network.attach(self.uid, *self.key)
        if self.env.announce_scheduling:
            await self.env.events.record(
                self.pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {self.key[0]}/{self.key[1]} to {self.env.network.node_name}",
            )
        await self._prepare_context()
        self.containers = [
            ContainerState(spec=c, argv=argv_for(c, self.pod_ip, pod_dir=self._workdir())) for c in specs
        ]
        previous = self._previous_restart_counts()
        for state in self.containers:
            state.restarts = previous.get(str(state.spec.get("name", "")), 0)
        for state in self.containers:
            await self._start_container(state)
        await self._publish()
        while True:
            timeout = self._seconds_to_next_action()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=timeout)
            self.changed.clear()
            await self._handle_exits()
            await self._restart_due()
            await self._probe_due()
            await self._publish()
            if self._finished() and self.last_status is not None:
                return

    async def _prepare_context(self) -> None:
        """Credentials and mounts for the pod's processes; retried (Pending) until the API gives them."""
        delay = 0.5
        while True:
            try:
                env, mounts = await self.env.pod_credentials.prepare(self.pod, self._workdir())
                break
            except (KubeError, OSError) as exc:
                log.warning("pod %s/%s: no credentials yet: %s", *self.key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_BACKOFF_SECONDS)
        hosts = self.env.hosts.path_for(self.key[0]) if self.env.hosts is not None else None
        hosts_mount = ((hosts, "/etc/hosts"),) if hosts is not None else ()
        self.credential_env = env
        self.context = PodContext(enter=self.env.network.enter(self.uid), mounts=merged(hosts_mount, mounts))

    def _previous_restart_counts(self) -> dict[str, int]:
        """Restart counts of a pod run before this runtime restarted: its containers start once more."""
        status = self.pod.get("status") or {}
        counts: dict[str, int] = {}
        for container in status.get("containerStatuses") or []:
            started_before = bool((container.get("state") or {}).get("running")) or bool(
                container.get("lastState")
            )
            counts[str(container.get("name"))] = int(container.get("restartCount") or 0) + int(started_before)
        return counts

    def _seconds_to_next_action(self) -> float:
        clock = time.monotonic()
        moments = [s.next_probe for s in self.containers if s.process and s.process.running()]
        moments += [s.restart_at for s in self.containers if s.restart_at is not None]
        if self.last_status is None:
            moments.append(clock + STATUS_RETRY_SECONDS)
        # Wake up at least once a minute even with nothing due (probe-less containers wait for exits only).
        return min(IDLE_WAKEUP_SECONDS, max(0.01, min(moments, default=clock + IDLE_WAKEUP_SECONDS) - clock))

    async def _report_unpullable(self, specs: list[Obj], message: str) -> None:
        """As a kubelet reports an image it cannot pull: ErrImagePull, then ImagePullBackOff for good."""

        def status(reason: str, text: str) -> Obj:
            statuses = [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": text}},
                }
                for c in specs
            ]
            return self._with_qos(
                {
                    "phase": "Pending",
                    "hostIP": self.env.network.host_ip,
                    "conditions": [
                        self._condition("PodScheduled", True),
                        self._condition("Initialized", True),
                        self._condition("ContainersReady", False, "ContainersNotReady"),
                        self._condition("Ready", False, "ContainersNotReady"),
                    ],
                    "containerStatuses": statuses,
                }
            )

        await self.env.events.record(self.pod, "Warning", "Failed", message)
        await self.env.events.record(self.pod, "Warning", "Failed", "Error: ErrImagePull")
        await self._patch_status(status("ErrImagePull", message))
        await asyncio.sleep(IMAGE_PULL_BACKOFF_SECONDS)
        images = ", ".join(sorted({str(c.get("image", "")) for c in specs}))
        back_off = f'Back-off pulling image "{images}"'
        await self.env.events.record(self.pod, "Normal", "BackOff", back_off)
        await self.env.events.record(self.pod, "Warning", "Failed", "Error: ImagePullBackOff")
        await self._patch_status(status("ImagePullBackOff", back_off))

    def _with_qos(self, status: Obj) -> Obj:
        """The QoS class is the API server's to set (a real one refuses changes to it); fill it in if not."""
        if not (self.pod.get("status") or {}).get("qosClass"):
            status["qosClass"] = "BestEffort"
        return status

    def _process_env(self, state: ContainerState) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        env["HOME"] = str(self._workdir())
        env["HOSTNAME"] = self.key[1]
        return env | self._container_env(state)

    def _container_env(self, state: ContainerState) -> dict[str, str]:
        """What the pod gives the container (not the host's PATH and HOME, which an image has its own of)."""
        env = dict(self.credential_env)
        env.update(self.env.extra_env)
        network = self.env.network
        env.update(container_env(state.spec, self.pod, self.pod_ip, network.host_ip, network.node_name))
        return env

    @property
    def workdir(self) -> Path:
        """The pod's own directory (HOME of its processes, its service-account files)."""
        return self.env.state_dir / "pods" / self.key[0] / self.key[1]

    def _workdir(self) -> Path:
        return self.workdir

    def log_file(self, container_name: str) -> Path:
        return log_path(self.env.state_dir / "logs", self.key[0], self.key[1], container_name)

    async def _start_container(self, state: ContainerState) -> None:
        name = str(state.spec.get("name", ""))
        record = self.env.pids_dir / f"{self.uid}.{name}"
        try:
            process = self._container_process(state, name, record)
            state.process = process  # tracked before spawning, so a stop during the spawn still kills it
            await prepare(self.env.kube, self.pod, state.spec, self._workdir(), self.env.discovery_file)
            await process.start()
        except (OSError, ValueError, ContainerSetupError) as exc:
            state.process = None
            state.exit_code = 128
            state.last_termination = {"exitCode": 128, "reason": "StartError", "message": str(exc)}
            await self.env.events.record(self.pod, "Warning", "Failed", f"Error: {exc}")
            if self.restart_policy != "Never":
                self._schedule_restart(state)
            return
        state.started_at = timestamp()
        state.exit_code = None
        state.ready = state.ever_ready = False
        state.successes = state.failures = 0
        probe = state.spec.get("readinessProbe") or {}
        state.next_probe = time.monotonic() + float(probe.get("initialDelaySeconds") or 0)
        state.waiter = asyncio.create_task(self._wait_exit(process))
        if state.restarts == 0:
            await self.env.events.record(
                self.pod, "Normal", "Pulled", f'Container image "{state.spec.get("image")}" already present'
            )
            await self.env.events.record(self.pod, "Normal", "Created", f"Created container {name}")
        await self.env.events.record(self.pod, "Normal", "Started", f"Started container {name}")

    def _container_process(self, state: ContainerState, name: str, record: Path) -> ContainerProcess:
        podman = self.env.podman
        if podman is None or not podman.runs(state.spec):
            return ContainerProcess(
                state.argv,
                self._process_env(state),
                self.log_file(name),
                self._workdir(),
                self.context,
                record,
            )
        container_name = podman.container_name(self.key[0], self.key[1], name)
        argv = podman.run_argv(
            container_name,
            self.pod,
            state.spec,
            self.pod_ip,
            self.context,
            self._container_env(state),
            self._workdir() / "podman" / name,
        )
        return podman.container(container_name, argv, self.log_file(name), self._workdir(), record)

    async def _wait_exit(self, process: ContainerProcess) -> int:
        code = await process.wait()
        self.changed.set()
        return code

    async def _handle_exits(self) -> None:
        for state in self.containers:
            if state.process is None or state.process.running() or state.exit_code is not None:
                continue
            code = state.process.process.returncode if state.process.process else None
            state.exit_code = code if code is not None and code >= 0 else 128 + -(code or 0)
            state.ready = False
            state.last_termination = {
                "exitCode": state.exit_code,
                "reason": "Completed" if state.exit_code == 0 else "Error",
                "startedAt": state.started_at,
                "finishedAt": timestamp(),
            }
            name = state.spec.get("name")
            log.info("container %s of pod %s/%s exited with %s", name, *self.key, state.exit_code)
            if self.restart_policy == "Always" or (
                self.restart_policy == "OnFailure" and state.exit_code != 0
            ):
                self._schedule_restart(state)
                await self.env.events.record(
                    self.pod, "Warning", "BackOff", f"Back-off restarting failed container {name}"
                )

    def _schedule_restart(self, state: ContainerState) -> None:
        delay = min(MAX_RESTART_BACKOFF_SECONDS, 2.0 ** min(state.restarts, 5))
        state.restart_at = time.monotonic() + delay

    async def _restart_due(self) -> None:
        for state in self.containers:
            if state.restart_at is not None and state.restart_at <= time.monotonic():
                state.restart_at = None
                state.restarts += 1
                await self._start_container(state)

    async def _probe_due(self) -> None:
        clock = time.monotonic()
        for state in self.containers:
            if state.process is None or not state.process.running() or state.next_probe > clock:
                continue
            probe = state.spec.get("readinessProbe")
            if not probe:
                state.ready = True
                state.next_probe = float("inf")
                continue
            try:
                ok = await run_probe(probe, state.spec, self.pod_ip, self.context, self.env.network.connect)
            except ValueError as exc:
                ok = False
                await self.env.events.record(
                    self.pod, "Warning", "Unhealthy", f"Readiness probe errored: {exc}"
                )
            if ok:
                state.successes, state.failures = state.successes + 1, 0
                if state.successes >= int(probe.get("successThreshold") or 1):
                    state.ready = True
            else:
                state.failures, state.successes = state.failures + 1, 0
                if state.ready and state.failures >= int(probe.get("failureThreshold") or 3):
                    state.ready = False
                    await self.env.events.record(
                        self.pod,
                        "Warning",
                        "Unhealthy",
                        f"Readiness probe failed for {state.spec.get('name')}",
                    )
            period = float(probe.get("periodSeconds") or 10)
            if not state.ready and not state.ever_ready:
                # Until the first success, probe at most every second: the stand-in apps are Python and take
                # a moment longer to listen than the Go binaries the images hold.
                period = min(period, FIRST_READINESS_RETRY_SECONDS)
            state.ever_ready = state.ever_ready or state.ready
            state.next_probe = clock + period

    def _finished(self) -> bool:
        return all(
            s.exit_code is not None
            and s.restart_at is None
            and (s.process is None or not s.process.running())
            for s in self.containers
        ) and bool(self.containers)

    def _phase(self) -> str:
        if self._finished():
            return "Succeeded" if all(s.exit_code == 0 for s in self.containers) else "Failed"
        if any(s.process is not None for s in self.containers):
            return "Running"
        return "Pending"

    def _condition(self, condition_type: str, value: bool, reason: str = "") -> Obj:
        status = "True" if value else "False"
        previous = self.transitions.get(condition_type)
        if previous is None or previous[0] != status:
            self.transitions[condition_type] = (status, timestamp())
        condition: Obj = {
            "type": condition_type,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": self.transitions[condition_type][1],
        }
        if reason and not value:
            condition["reason"] = reason
        return condition

    def _container_status(self, state: ContainerState) -> Obj:
        running = state.process is not None and state.process.running()
        current: Obj
        if running:
            current = {"running": {"startedAt": state.started_at}}
        elif state.restart_at is not None:
            current = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off restarting failed container {state.spec.get('name')}",
                }
            }
        elif state.last_termination is not None:
            current = {"terminated": state.last_termination}
        else:
            current = {"waiting": {"reason": "ContainerCreating"}}
        status: Obj = {
            "name": state.spec.get("name", ""),
            "image": state.spec.get("image", ""),
            "imageID": f"sandbox://{state.spec.get('image', '')}",
            "containerID": state.process.container_id if state.process else "",
            "ready": running and state.ready,
            "started": running,
            "restartCount": state.restarts,
            "state": current,
            # The previous run, as a kubelet reports it while the container runs again or waits to.
            "lastState": {"terminated": state.last_termination}
            if state.last_termination and (running or state.restart_at is not None)
            else {},
        }
        return status

    def status(self) -> Obj:
        all_ready = bool(self.containers) and all(
            s.ready and s.process is not None and s.process.running() for s in self.containers
        )
        phase = self._phase()
        ready_reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
        status: Obj = {
            "phase": phase,
            "hostIP": self.env.network.host_ip,
            "hostIPs": [{"ip": self.env.network.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.pod.get("status", {}).get("startTime")
            or self.transitions.get("PodScheduled", ("", timestamp()))[1],
            "conditions": [
                self._condition("PodScheduled", True),
                self._condition("Initialized", True),
                self._condition("ContainersReady", all_ready, ready_reason),
                self._condition("Ready", all_ready, ready_reason),
            ],
            "containerStatuses": [self._container_status(s) for s in self.containers],
        }
        return self._with_qos(status)

    async def _publish(self) -> None:
        status = self.status()
        if status != self.last_status:
            # An unwritten status (the API server restarting) is retried at the next wake-up.
            self.last_status = status if await self._patch_status(status) else None

    async def _patch_status(self, status: Obj) -> bool:
        try:
            await self.env.kube.patch(
                PODS, self.key[0], self.key[1], {"status": status}, subresource="status"
            )
        except KubeError as exc:
            if not exc.not_found:
                log.warning("status of pod %s/%s not written: %s", *self.key, exc)
            return exc.not_found
        return True

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        grace = float(self.pod.get("spec", {}).get("terminationGracePeriodSeconds") or MAX_GRACE_SECONDS)
        grace = min(grace, MAX_GRACE_SECONDS)
        stops = [s.process.stop(grace) for s in self.containers if s.process is not None]
        await asyncio.gather(*stops)
        for state in self.containers:
            if state.waiter is not None:
                state.waiter.cancel()
        if self.attached:
            await self.env.network.detach(self.uid)


class PodRuntime:
    """Starts a worker for every pod that should run and stops it when the pod goes away."""

    def __init__(self, env: PodEnvironment, pods: Informer) -> None:
        self.env = env
        self.pods = pods
        self.workers: dict[Key, PodWorker] = {}
        #: Pods (by uid) whose containers are being stopped.
        self.terminating: dict[str, asyncio.Task[None]] = {}
        self.queue = WorkQueue("pods", self.reconcile)
        pods.subscribe(self._on_pod)
        self.discovery = PodDiscoveryTargets(pods, env.discovery_file)

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        self.queue.add((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))

    def worker_for(self, namespace: str, name: str) -> PodWorker | None:
        return self.workers.get((namespace, name))

    async def reconcile(self, key: Key) -> float | None:
        pod = self.pods.get(*key)
        worker = self.workers.get(key)
        if worker is not None and (
            pod is None or pod["metadata"].get("uid") != worker.pod["metadata"].get("uid")
        ):
            self._terminate(key, worker, delete=False)
            worker = None
        if pod is None:
            return None
        if is_terminating(pod):
            uid = str(pod["metadata"].get("uid"))
            if worker is not None:
                self._terminate(key, worker, delete=True)
            elif uid not in self.terminating:
                await self.env.kube.delete(PODS, key[0], key[1], grace_zero=True)
            return None
        if worker is None and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            worker = PodWorker(self.env, pod)
            self.workers[key] = worker
            worker.start()
        return None

    def _terminate(self, key: Key, worker: PodWorker, *, delete: bool) -> None:
        """Stop the pod's containers in the background (each pod has its grace period, as a kubelet's pod
        workers do: one slow pod must not hold up the others), then finish its deletion."""
        del self.workers[key]
        uid = worker.uid
        task = asyncio.create_task(self._stop(key, worker, delete), name=f"stop {key[0]}/{key[1]}")
        self.terminating[uid] = task
        task.add_done_callback(lambda _: self.terminating.pop(uid, None))

    async def _stop(self, key: Key, worker: PodWorker, delete: bool) -> None:
        try:
            for state in worker.containers:
                if state.process is not None and state.process.running():
                    await self.env.events.record(
                        worker.pod, "Normal", "Killing", f"Stopping container {state.spec.get('name')}"
                    )
            await worker.stop()
            if delete:
                await self.env.kube.delete(PODS, key[0], key[1], grace_zero=True)
        except KubeError as exc:
            log.warning("pod %s/%s: deletion not finished: %s", *key, exc)
            self.queue.add_after(key, 1.0)

    async def stop_all(self) -> None:
        workers = list(self.workers.items())
        self.workers.clear()
        stops = [worker.stop() for _, worker in workers]
        await asyncio.gather(*stops, *self.terminating.values(), return_exceptions=True)
