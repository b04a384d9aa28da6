"""`--pod-runtime podman`: Flagman's own images run as podman containers, so the install paths (the chart,
the kustomizations) are exercised with the images users will run.

The process runtime (the default) maps every image to a local program (`images`). With podman, a container
whose image is Flagman's controller or load tester image (what `make images` tags: `*flagman/controller`,
`*flagman/loadtester`) runs as `podman run` of that very image instead; every other image (podinfo,
Prometheus, tool images) stays a local process. The container gets what a kubelet would give it, in the
sandbox's terms:

- the pod's network: the host's (`--network=host`; the program binds the pod's loopback IP with the same
  flag the process runtime adds) or, on a node, the pod's network namespace (`--network=ns:PATH`);
- the pod context's bind mounts (the namespace's hosts file over /etc/hosts, on a node resolv.conf and the
  service-account directory) as read-only volumes, the `KUBECONFIG` file at the same path, emptyDir volumes
  as tmpfs;
- the container's env (downward API included) and the pod's credentials, as `-e`;
- the securityContext: user and group, read-only root, dropped and added capabilities, no new privileges.

`podman run` stays attached, so its output is the pod's log and SIGTERM reaches the container (podman
proxies it); the container is removed when the pod goes (`podman rm -f`), and containers a crashed runtime
left behind (found by label) when the runtime starts. podman never pulls here (no registry is reachable): a
missing image is the pod's ErrImagePull, naming `make images`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.runtime.images import (
    controller_flags,
    is_controller_image,
    loadtester_flags,
    parse_image,
    runs_loadtester,
)
from sandbox.runtime.processes import ContainerProcess, PodContext

log = logging.getLogger(__name__)

POD_RUNTIMES = ("process", "podman")
#: The default of `--pod-runtime` (`flagman sandbox up`, `flagman demo`).
POD_RUNTIME_ENV = "FLAGMAN_POD_RUNTIME"
#: Repository suffixes of the images `make images` builds (any registry prefix, `IMAGE_REGISTRY`).
FLAGMAN_IMAGES = ("flagman/controller", "flagman/loadtester")
#: Marks the containers of one sandbox (its state directory), for clean-up after a crash.
LABEL = "io.flagman.sandbox"
#: The repository's podman settings (ulimits the VM grants, runc): what `make images` builds with.
REPO_CONTAINERS_CONF = Path(__file__).resolve().parents[2] / "images" / "podman" / "containers.conf"
PODMAN_TIMEOUT_SECONDS = 60.0


class PodmanUnavailable(Exception):
    """`--pod-runtime podman` asked for, but podman is not installed."""


def default_pod_runtime() -> str:
    """$FLAGMAN_POD_RUNTIME, or `process` (checked where it is used: `pod_runtime_error`)."""
    return os.environ.get(POD_RUNTIME_ENV) or "process"


def pod_runtime_error(value: str) -> str | None:
    if value in POD_RUNTIMES:
        return None
    choices = ", ".join(POD_RUNTIMES)
    return f"unknown pod runtime {value!r} (--pod-runtime or ${POD_RUNTIME_ENV}): one of {choices}"


def podman_environ() -> dict[str, str]:
    """podman's own environment: the repository's containers.conf unless one is set (as `make images`)."""
    environ = dict(os.environ)
    if "CONTAINERS_CONF" not in environ and REPO_CONTAINERS_CONF.is_file():
        environ["CONTAINERS_CONF"] = str(REPO_CONTAINERS_CONF)
    return environ


def runs_in_podman(container: Mapping[str, Any]) -> bool:
    """Whether the container's image is one `make images` builds (Flagger's own image stays a process)."""
    image = parse_image(str(container.get("image") or ""))
    return image.repository.endswith(FLAGMAN_IMAGES)


def network_option(context: PodContext) -> str:
    """`--network` for the pod context's `enter` prefix: nothing (the host's) or `nsenter --net=PATH --`."""
    if not context.enter:
        return "--network=host"
    for token in context.enter:
        if token.startswith("--net="):
            return f"--network=ns:{token.removeprefix('--net=')}"
    raise ValueError(f"podman cannot enter the pod's network with {' '.join(context.enter)}")


def security_options(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """The container's securityContext (over the pod's) as podman options."""
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    security = container.get("securityContext") or {}
    options: list[str] = []
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if user is not None:
        options.append(f"--user={user}:{group}" if group is not None else f"--user={user}")
    if security.get("readOnlyRootFilesystem"):
        # podman would add writable tmpfs on /tmp, /run, /var/tmp; a kubelet adds nothing: emptyDirs only
        options += ["--read-only", "--read-only-tmpfs=false"]
    capabilities = security.get("capabilities") or {}
    options += [f"--cap-drop={name.lower()}" for name in capabilities.get("drop") or []]
    options += [f"--cap-add={name.lower()}" for name in capabilities.get("add") or []]
    if security.get("allowPrivilegeEscalation") is False:
        options.append("--security-opt=no-new-privileges")
    return options


def volume_options(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """emptyDir mounts as tmpfs (writable, executable, like an emptyDir); other volume kinds are not given
    (the process runtime has none either), which the log says."""
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    options: list[str] = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        if "emptyDir" in volume:
            options.append(f"--tmpfs={mount['mountPath']}:rw,exec,mode=1777")
        else:
            log.warning("podman runtime: volume %s is not mounted (only emptyDir is)", mount.get("name"))
    return options


def readable(path: Path) -> None:
    """The container's user (10001) reads the files mounted for it, whatever the runtime's umask."""
    mode = path.stat().st_mode
    if not mode & 0o004:
        path.chmod(mode | 0o044)


@dataclass(frozen=True)
class PodmanImages:
    """Runs the containers of Flagman's images with podman; `label` tells this sandbox's containers."""

    podman: str
    label: str
    environ: Mapping[str, str]

    @classmethod
    def find(cls, label: str) -> PodmanImages:
        podman = shutil.which("podman")
        if podman is None:
            raise PodmanUnavailable(
                "--pod-runtime podman needs podman (Debian: apt-get install podman runc), and the images "
                "from `make images`; see docs/install.md"
            )
        return cls(podman=podman, label=label, environ=podman_environ())

    def runs(self, container: Mapping[str, Any]) -> bool:
        return runs_in_podman(container)

    def container_name(self, namespace: str, pod: str, container: str) -> str:
        """Unique per sandbox (several may run at once) and readable in `podman ps`."""
        sandbox = hashlib.sha256(self.label.encode()).hexdigest()[:6]
        return f"flagman-{sandbox}-{namespace}-{pod}-{container}"

    def has_image(self, image: str) -> bool:
        """Whether podman's store holds `image` (for checks before anything starts)."""
        completed = subprocess.run(
            [self.podman, "image", "exists", image],
            capture_output=True,
            env=dict(self.environ),
            timeout=PODMAN_TIMEOUT_SECONDS,
            check=False,
        )
        return completed.returncode == 0

    async def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        process = await asyncio.create_subprocess_exec(
            self.podman,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(self.environ),
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), PODMAN_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        code = process.returncode if process.returncode is not None else -1
        return subprocess.CompletedProcess(args, code, out.decode(errors="replace"), err.decode())

    async def missing_image(self, containers: Sequence[Mapping[str, Any]]) -> str | None:
        """The pull error for the first of the containers' podman images that is not in podman's store."""
        for container in containers:
            if not self.runs(container):
                continue
            image = str(container.get("image") or "")
            exists = await self._podman("image", "exists", image)
            if exists.returncode == 1:
                return (
                    f'Failed to pull image "{image}": not in podman\'s image store and the podman pod '
                    "runtime never pulls: build it with `make images`"
                )
            if exists.returncode != 0:
                return f'Failed to pull image "{image}": podman failed: {exists.stderr.strip()}'
        return None

    def run_argv(
        self,
        name: str,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        pod_ip: str,
        context: PodContext,
        env: Mapping[str, str],
        files_dir: Path,
    ) -> list[str]:
        """`podman run` of the container, attached (its output is the log), removed when it ends."""
        meta = pod.get("metadata") or {}
        options = [
            "run",
            "--rm",
            "--replace",
            "--pull=never",
            f"--name={name}",
            f"--label={LABEL}={self.label}",
            f"--label=io.kubernetes.pod.namespace={meta.get('namespace', '')}",
            f"--label=io.kubernetes.pod.name={meta.get('name', '')}",
            f"--label=io.kubernetes.container.name={container.get('name', '')}",
            f"--hostname={meta.get('name', '')}",
            network_option(context),
            *security_options(pod, container),
            *volume_options(pod, container),
        ]
        for source, target in context.mounts:
            if source.is_file():
                readable(source)
            options.append(f"--volume={source}:{target}:ro")
        kubeconfig = env.get("KUBECONFIG")
        if kubeconfig and Path(kubeconfig).is_file():
            # a copy the container's user can read, at the path KUBECONFIG names
            files_dir.mkdir(parents=True, exist_ok=True)
            copy = files_dir / "kubeconfig"
            shutil.copyfile(kubeconfig, copy)
            copy.chmod(0o644)
            options.append(f"--volume={copy}:{kubeconfig}:ro")
        for key, value in env.items():
            options.append(f"--env={key}={value}")
        image = str(container["image"])
        if is_controller_image(parse_image(image)):
            return [self.podman, *options, image, *controller_flags(dict(container), pod_ip)]
        if runs_loadtester(dict(container)):
            return [self.podman, *options, image, *loadtester_flags(dict(container), pod_ip)]
        # another command in the image (a Helm test's `sh -c`): Kubernetes' command replaces the entrypoint
        command = [str(token) for token in container.get("command") or []]
        args = [str(token) for token in container.get("args") or []]
        return [self.podman, *options, f"--entrypoint={json.dumps(command)}", image, *args]

    def container(
        self,
        name: str,
        argv: Sequence[str],
        log_file: Path,
        workdir: Path,
        record: Path | None,
    ) -> PodmanContainer:
        return PodmanContainer(self, name, argv, log_file, workdir, record)

    async def remove(self, name: str) -> None:
        removed = await self._podman("rm", "--force", "--ignore", "--time=0", name)
        if removed.returncode != 0:
            log.warning("podman rm %s failed: %s", name, removed.stderr.strip())

    async def remove_leftovers(self) -> int:
        """Remove this sandbox's containers that a crashed runtime left running; how many."""
        listed = await self._podman("ps", "--all", "--quiet", f"--filter=label={LABEL}={self.label}")
        ids = listed.stdout.split()
        if ids:
            await self._podman("rm", "--force", "--ignore", "--time=0", *ids)
        return len(ids)


class PodmanContainer(ContainerProcess):
    """`podman run` as the container's process: stopped like one (SIGTERM, which podman passes on to the
    container), then the container itself removed, which a SIGKILLed `podman run` would leave running."""

    def __init__(
        self,
        images: PodmanImages,
        name: str,
        argv: Sequence[str],
        log_file: Path,
        workdir: Path,
        record: Path | None,
    ) -> None:
        super().__init__(argv, images.environ, log_file, workdir, PodContext(), record)
        self.images = images
        self.name = name

    @property
    def container_id(self) -> str:
        return f"podman://{self.name}"

    def exec_argv(self, command: Sequence[str], *, stdin: bool, tty: bool) -> list[str]:
        flags = [*(["--interactive"] if stdin else []), *(["--tty"] if tty else [])]
        return [self.images.podman, "exec", *flags, self.name, *command]

    async def stop(self, grace_seconds: float) -> None:
        await super().stop(grace_seconds)
        await self.images.remove(self.name)
