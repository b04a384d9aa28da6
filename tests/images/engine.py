"""The container engine for the image tests: the one `make images` used (scripts/images/engine.sh), and
containers started as the images' users would start them in a locked-down cluster."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deploy.tooling import REPO

ENGINE_SCRIPT = REPO / "scripts" / "images" / "engine.sh"

# Flagger's securityContext (runAsUser 10001, readOnlyRootFilesystem) and the restricted Pod Security
# Standard's "drop ALL"; the host network lets the container reach servers the test runs on loopback.
LOCKED_DOWN = ["--user", "10001:10001", "--read-only", "--cap-drop=all", "--network=host"]


def detect() -> tuple[str, dict[str, str]]:
    """(engine, environment): "" when neither a Docker engine nor podman is there."""
    completed = subprocess.run(
        ["bash", "-c", f'source "{ENGINE_SCRIPT}" && echo "$ENGINE" && echo "${{CONTAINERS_CONF:-}}"'],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    engine, containers_conf = [*completed.stdout.splitlines(), "", ""][:2]
    environ = dict(os.environ)
    if containers_conf:
        environ["CONTAINERS_CONF"] = containers_conf
    return engine, environ


@dataclass
class Engine:
    name: str
    environ: dict[str, str]
    started: list[str] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.name, *args], capture_output=True, text=True, env=self.environ, timeout=timeout, check=False
        )

    def image_config(self, image: str) -> dict[str, object]:
        completed = self.run("image", "inspect", image)
        assert completed.returncode == 0, (
            f"image {image} is missing: run `make images` first\n{completed.stderr}"
        )
        (config,) = json.loads(completed.stdout)
        return dict(config)

    def image_size_mb(self, image: str) -> int:
        size: Any = self.image_config(image)["Size"]
        return int(size) // 1_000_000

    def start(self, image: str, *args: str, options: tuple[str, ...] = ()) -> str:
        """Start `image` detached with its own entrypoint (the Flagger shim), locked down; its name."""
        name = f"flagman-test-{uuid.uuid4().hex[:10]}"
        extra = ["--read-only-tmpfs=false"] if self.name == "podman" else []  # nothing writable unless asked
        completed = self.run("run", "-d", "--name", name, *LOCKED_DOWN, *extra, *options, image, *args)
        assert completed.returncode == 0, completed.stderr
        self.started.append(name)
        return name

    def once(
        self, image: str, *command: str, options: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` (through bash) in a fresh locked-down container of `image` and remove it."""
        extra = ["--read-only-tmpfs=false"] if self.name == "podman" else []
        return self.run(
            "run",
            "--rm",
            *LOCKED_DOWN,
            *extra,
            *options,
            "--entrypoint",
            "bash",
            image,
            "-c",
            " ".join(command),
        )

    def python(self, image: str, code: str) -> subprocess.CompletedProcess[str]:
        """Run Python `code` with the image's interpreter, in a fresh locked-down container."""
        extra = ["--read-only-tmpfs=false"] if self.name == "podman" else []
        return self.run("run", "--rm", *LOCKED_DOWN, *extra, "--entrypoint", "python", image, "-c", code)

    def exec(self, container: str, *command: str) -> subprocess.CompletedProcess[str]:
        return self.run("exec", container, *command)

    def logs(self, container: str) -> str:
        completed = self.run("logs", container)
        return completed.stdout + completed.stderr

    def stop(self, container: str) -> int:
        """SIGTERM, then the container's exit code."""
        self.run("stop", "-t", "15", container, timeout=60)
        completed = self.run("inspect", "--format", "{{.State.ExitCode}}", container)
        return int(completed.stdout.strip() or -1)

    def remove_started(self) -> None:
        for name in self.started:
            self.run("rm", "-f", name, timeout=60)
        self.started.clear()


def mount(path: Path, target: str) -> tuple[str, str]:
    return ("-v", f"{path}:{target}:ro")
