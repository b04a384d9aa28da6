"""Which local program runs for a container image: the sandbox has no container engine, only known images.

`*podinfo*:TAG` runs the podinfo-compatible demo app with version TAG; `*loadtester*` runs Flagman's load
tester; the controller images (Flagman's `*flagman/controller` and Flagger's `*/flagger`) run
`python -m controller` with the container's flags, bound to the pod IP; `*prometheus` runs the real
/usr/bin/prometheus on the pod IP with a config the runtime translated (see `promconfig`). Ports and flags
come from the container's command and args as the real images would read them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KNOWN_IMAGES = (
    "podinfo (*podinfo*:TAG), the load tester (*loadtester*), the controller (*flagman/controller, "
    "*/flagger), Prometheus (*/prometheus) and, for commands, tool images "
    "(busybox, alpine, curl, tiny-tools, bash)"
)
#: Where the real Prometheus lives (Debian's package; `make tools` installs it).
PROMETHEUS_BINARY = "/usr/bin/prometheus"
PROMETHEUS_PORT = 9090
#: The prom/prometheus image's default `--config.file`.
PROMETHEUS_IMAGE_CONFIG = "/etc/prometheus/prometheus.yml"
#: Images that only carry shell tools: their container `command` runs as a local process (the machine has
#: sh, curl, jq, wget), which is what Helm test pods and one-off debug pods need.
TOOL_IMAGES = ("busybox", "alpine", "curl", "tiny-tools", "bash", "debian", "ubuntu")


class UnknownImage(Exception):
    """The image has no local stand-in; the pod stays Pending, like an image that cannot be pulled."""


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]


def parse_image(image: str) -> ImageRef:
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
    else:
        repository, tag = reference, "latest"
    return ImageRef(repository=repository, tag=tag)


def flag_value(tokens: Sequence[str], *names: str) -> str | None:
    """`--name=value`, `--name value`, `-name=value` (Go's flag package accepts one or two dashes)."""
    for index, token in enumerate(tokens):
        for name in names:
            for dashes in ("--", "-"):
                flag = f"{dashes}{name}"
                if token.startswith(flag + "="):
                    return token[len(flag) + 1 :]
                if token == flag and index + 1 < len(tokens):
                    return tokens[index + 1]
    return None


def container_port(container: dict[str, Any], name: str, default: int) -> int:
    for port in container.get("ports") or []:
        if port.get("name") == name and port.get("containerPort"):
            return int(port["containerPort"])
    return default


def entrypoint_args(container: dict[str, Any], binary: str) -> list[str]:
    """The arguments the image's entrypoint would get: `command[1:] + args` if command names the binary."""
    command = [str(token) for token in container.get("command") or []]
    args = [str(token) for token in container.get("args") or []]
    if command and re.search(binary, command[0]):
        command = command[1:]
    return command + args


def podinfo_argv(container: dict[str, Any], pod_ip: str, image: ImageRef, python: str) -> list[str]:
    tokens = entrypoint_args(container, r"podinfo$")
    port = flag_value(tokens, "port") or str(container_port(container, "http", 9898))
    metrics_port = flag_value(tokens, "port-metrics") or str(container_port(container, "http-metrics", 9797))
    app = [python, "-m", "sandbox.apps.podinfo"]
    return [*app, "--host", pod_ip, "--port", port, "--metrics-port", metrics_port, "--version", image.tag]


def runs_loadtester(container: dict[str, Any]) -> bool:
    """Whether a load tester image's container runs the load tester (not e.g. a Helm test's `sh -c`)."""
    command = [str(token) for token in container.get("command") or []]
    return not command or bool(re.search(r"loadtester$", command[0]))


def loadtester_flags(container: dict[str, Any], pod_ip: str) -> list[str]:
    """The load tester's flags, bound to the pod IP (the entrypoint's arguments in the image)."""
    return ["--host", pod_ip, *entrypoint_args(container, r"loadtester$")]


def loadtester_argv(container: dict[str, Any], pod_ip: str, python: str) -> list[str]:
    if not runs_loadtester(container):
        return local_command(container)  # e.g. a Helm test pod running `sh -c` in the load tester image
    return [python, "-m", "loadtester", *loadtester_flags(container, pod_ip)]


def is_controller_image(image: ImageRef) -> bool:
    """Flagman's image, or Flagger's: moving from Flagger by changing only the image must also run."""
    return image.repository.endswith("flagman/controller") or image.name == "flagger"


def controller_flags(container: dict[str, Any], pod_ip: str) -> list[str]:
    """The flags of `./flagger FLAGS` (the image's shim) or `flagman controller FLAGS`, unchanged as the
    shim passes them; `-listen-address` binds /healthz and /metrics to the pod IP (a pod's `0.0.0.0` is its
    own network namespace; here it would be the whole machine)."""
    tokens = entrypoint_args(container, r"(^|/)flagger$")
    if tokens[:2] == ["flagman", "controller"]:
        tokens = tokens[2:]
    if flag_value(tokens, "listen-address") is None:
        tokens.append(f"-listen-address={pod_ip}")
    return tokens


def controller_argv(container: dict[str, Any], pod_ip: str, python: str) -> list[str]:
    """`./flagger FLAGS` or `flagman controller FLAGS` -> `python -m controller FLAGS`."""
    return [python, "-m", "controller", *controller_flags(container, pod_ip)]


def prometheus_config_path(container: dict[str, Any]) -> str:
    """The container's `--config.file` (where its ConfigMap volume puts the config)."""
    tokens = entrypoint_args(container, r"prometheus$")
    return flag_value(tokens, "config.file") or PROMETHEUS_IMAGE_CONFIG


def prometheus_files(pod_dir: Path) -> tuple[Path, Path]:
    """The translated config and the TSDB directory of a Prometheus pod, under its pod directory."""
    return pod_dir / "prometheus" / "prometheus.yml", pod_dir / "prometheus" / "data"


#: Flags the runtime sets itself: paths inside the image do not exist here, and the pod IP is the address.
_PROMETHEUS_OWNED_FLAGS = ("config.file", "storage.tsdb.path", "web.listen-address")


def prometheus_argv(container: dict[str, Any], pod_ip: str, pod_dir: Path) -> list[str]:
    tokens = entrypoint_args(container, r"prometheus$")
    port = PROMETHEUS_PORT
    listen = flag_value(tokens, "web.listen-address")
    if listen and listen.rsplit(":", 1)[-1].isdigit():
        port = int(listen.rsplit(":", 1)[-1])
    kept: list[str] = []
    skip_value = False
    for token in tokens:
        if skip_value:
            skip_value = False
            continue
        flag = token.lstrip("-").split("=", 1)[0]
        if token.startswith("-") and flag in _PROMETHEUS_OWNED_FLAGS:
            skip_value = "=" not in token
            continue
        kept.append(token)
    config_file, data_dir = prometheus_files(pod_dir)
    return [
        PROMETHEUS_BINARY,
        *kept,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={pod_ip}:{port}",
    ]


def is_prometheus_image(image: ImageRef) -> bool:
    return image.name == "prometheus"


def local_command(container: dict[str, Any]) -> list[str]:
    return [str(token) for token in (container.get("command") or []) + (container.get("args") or [])]


def argv_for(
    container: dict[str, Any], pod_ip: str, python: str = sys.executable, pod_dir: Path = Path(".")
) -> list[str]:
    """The local command line for `container`; `pod_dir` is where the runtime keeps the pod's files."""
    image_text = str(container.get("image") or "")
    image = parse_image(image_text)
    if "podinfo" in image.name:
        return podinfo_argv(container, pod_ip, image, python)
    if "loadtester" in image.name:
        return loadtester_argv(container, pod_ip, python)
    if is_controller_image(image):
        return controller_argv(container, pod_ip, python)
    if is_prometheus_image(image):
        return prometheus_argv(container, pod_ip, pod_dir)
    if any(tool in image.name for tool in TOOL_IMAGES) and local_command(container):
        return local_command(container)
    raise UnknownImage(
        f'Failed to pull image "{image_text}": the sandbox has no container engine '
        f"and runs only {KNOWN_IMAGES}"
    )
