"""Which local program runs for a container image: the sandbox has no container engine, only known images.

`*podinfo*:TAG` runs the podinfo-compatible demo app with version TAG; `*loadtester*` runs Flagman's load
tester. Ports and flags come from the container's command and args as the real images would read them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KNOWN_IMAGES = (
    "podinfo (*podinfo*:TAG), the load tester (*loadtester*) and, for commands, tool images "
    "(busybox, alpine, curl, tiny-tools, bash)"
)
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


def loadtester_argv(container: dict[str, Any], pod_ip: str, python: str) -> list[str]:
    command = [str(token) for token in container.get("command") or []]
    if command and not re.search(r"loadtester$", command[0]):
        return local_command(container)  # e.g. a Helm test pod running `sh -c` in the load tester image
    return [python, "-m", "loadtester", "--host", pod_ip, *entrypoint_args(container, r"loadtester$")]


def local_command(container: dict[str, Any]) -> list[str]:
    return [str(token) for token in (container.get("command") or []) + (container.get("args") or [])]


def argv_for(container: dict[str, Any], pod_ip: str, python: str = sys.executable) -> list[str]:
    image_text = str(container.get("image") or "")
    image = parse_image(image_text)
    if "podinfo" in image.name:
        return podinfo_argv(container, pod_ip, image, python)
    if "loadtester" in image.name:
        return loadtester_argv(container, pod_ip, python)
    if any(tool in image.name for tool in TOOL_IMAGES) and local_command(container):
        return local_command(container)
    raise UnknownImage(
        f'Failed to pull image "{image_text}": the sandbox has no container engine '
        f"and runs only {KNOWN_IMAGES}"
    )
