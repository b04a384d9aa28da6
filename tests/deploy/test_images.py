"""images/: hadolint on both Dockerfiles, what the images carry, and the `./flagger` / `./loadtester` shims
run for real (as the image runs them: from the working directory, found through PATH's python3)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from controller.settings import parse_settings as parse_controller_settings
from tests.deploy.tooling import IMAGES, REPO, tool

VENV_BIN = REPO / ".venv" / "bin"
DOCKERFILES = {
    "controller": IMAGES / "controller" / "Dockerfile",
    "loadtester": IMAGES / "loadtester" / "Dockerfile",
}
SHIMS = {"controller": IMAGES / "controller" / "flagger", "loadtester": IMAGES / "loadtester" / "loadtester"}


def hadolint() -> str:
    return tool("hadolint", VENV_BIN / "hadolint")


@pytest.mark.parametrize("image", DOCKERFILES)
def test_hadolint_passes(image: str) -> None:
    completed = subprocess.run(
        [hadolint(), str(DOCKERFILES[image])], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_hadolint_would_catch_a_sloppy_dockerfile(tmp_path: Path) -> None:
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install wget\nRUN cd /app && pip install x\n"
    )
    completed = subprocess.run([hadolint(), str(sloppy)], capture_output=True, text=True, check=False)
    assert completed.returncode != 0
    assert "DL3007" in completed.stdout  # latest tag
    assert "DL3015" in completed.stdout  # --no-install-recommends


def instructions_of_all_stages(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    parsed = instructions_of_all_stages(dockerfile)
    last_from = max(index for index, (instruction, _) in enumerate(parsed) if instruction == "FROM")
    return parsed[last_from:]


@pytest.mark.parametrize(("image", "shim"), [("controller", "flagger"), ("loadtester", "loadtester")])
def test_image_runs_the_shim_from_its_working_directory_as_non_root(image: str, shim: str) -> None:
    final = instructions(DOCKERFILES[image])
    assert final[0][1].startswith("${PYTHON_IMAGE}")
    values = dict(final)
    assert values["WORKDIR"] == "/app"
    assert values["ENTRYPOINT"] == f'["./{shim}"]'
    assert values["USER"] == "10001:10001"
    assert any(i == "COPY" and args.endswith(f"images/{image}/{shim} ./{shim}") for i, args in final)
    assert "PYTHONDONTWRITEBYTECODE=1" in values["ENV"]
    assert "wget" in values["RUN"]  # Flagger's exec probes
    ignore = (DOCKERFILES[image].parent / "Dockerfile.dockerignore").read_text()
    assert f"!images/{image}/{shim}" in ignore


def test_base_image_is_slim_python() -> None:
    for dockerfile in DOCKERFILES.values():
        assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in dockerfile.read_text()


def test_loadtester_image_carries_the_task_programs() -> None:
    text = DOCKERFILES["loadtester"].read_text()
    final = dict(instructions(DOCKERFILES["loadtester"]))
    packages = final["RUN"].split("--no-install-recommends", 1)[1].split("&&", 1)[0].split()
    assert {"bash", "curl", "jq", "hey", "wget"} <= set(packages)
    assert "COPY --from=tools /downloads/helm /downloads/kubectl /usr/local/bin/" in text
    assert "sha256sum -c" in text  # downloaded binaries are verified
    assert "HOME=/tmp" in final["ENV"]


# --- the shims ---------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An image-like working directory: the shims as `./flagger` and `./loadtester`."""
    for source in SHIMS.values():
        target = tmp_path / source.name
        shutil.copy2(source, target)
        assert os.access(target, os.X_OK), f"{source} must be executable"
    return tmp_path


def run_shim(
    workdir: Path, shim: str, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", **(environ or {})}
    return subprocess.run(
        [f"./{shim}", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def printed_settings(workdir: Path, shim: str, *args: str) -> dict[str, object]:
    completed = run_shim(workdir, shim, "--flagman-print-settings", *args)
    assert completed.returncode == 0, completed.stderr
    printed: dict[str, object] = json.loads(completed.stdout)
    return printed


FLAGGER_COMMAND = [
    "-log-level=info",
    "-mesh-provider=kubernetes",
    "-metrics-server=http://x:9090",
    "-enable-config-tracking=true",
    "-slack-user=flagger",
    "-enable-leader-election=true",
    "-leader-election-namespace=flagger",
]
NATIVE_COMMAND = [
    "--log-level",
    "info",
    "--mesh-provider",
    "kubernetes",
    "--metrics-server",
    "http://x:9090",
    "--enable-config-tracking=true",
    "--slack-user",
    "flagger",
    "--enable-leader-election",
    "--leader-election-namespace",
    "flagger",
]


def test_flagger_shim_parses_flaggers_command_line_like_the_native_flags(workdir: Path) -> None:
    through_shim = printed_settings(workdir, "flagger", *FLAGGER_COMMAND)
    native = parse_controller_settings(NATIVE_COMMAND, {})
    assert through_shim == native.to_dict()
    assert through_shim["metrics_server"] == "http://x:9090"
    assert through_shim["enable_leader_election"] is True


def test_flagger_shim_hands_the_command_line_to_flagman_controller(workdir: Path) -> None:
    version = run_shim(workdir, "flagger", "-log-level=info", "-version")
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"Flagman version \d+\.\d+\.\d+\S* revision  \S+\n", version.stdout)
    refused = run_shim(workdir, "flagger", "-mesh-provider=istio")
    assert refused.returncode == 2
    assert "Flagman does not implement" in refused.stderr


def test_flagger_shim_honours_flaggers_environment(workdir: Path) -> None:
    env_settings = run_shim(
        workdir,
        "flagger",
        "--flagman-print-settings",
        "-slack-url=https://a.example/x",
        environ={"SLACK_URL": "https://hooks.slack.com/services/T/B/X"},
    )
    assert json.loads(env_settings.stdout)["slack_url"] == "https://hooks.slack.com/services/T/B/X"


LOADTESTER_FLAGGER_COMMAND = ["-port=8080", "-log-level=info", "-timeout=1h"]
LOADTESTER_NATIVE_COMMAND = ["--port", "8080", "--log-level", "info", "--timeout", "1h"]


def test_loadtester_shim_parses_flaggers_command_line_like_the_native_flags(workdir: Path) -> None:
    through_shim = printed_settings(workdir, "loadtester", *LOADTESTER_FLAGGER_COMMAND)
    native = printed_settings(workdir, "loadtester", *LOADTESTER_NATIVE_COMMAND)
    assert through_shim == native
    assert (through_shim["port"], through_shim["log_level"], through_shim["timeout"]) == (
        8080,
        "info",
        3600.0,
    )


def test_loadtester_shim_accepts_flaggers_chart_command_line(workdir: Path) -> None:
    printed = printed_settings(workdir, "loadtester", *LOADTESTER_FLAGGER_COMMAND, "-namespace-regexp=")
    assert printed["namespace_regexp"] is None
    printed = printed_settings(workdir, "loadtester", *LOADTESTER_FLAGGER_COMMAND, "-namespace-regexp=test")
    assert printed["namespace_regexp"] == "test"


def test_loadtester_shim_hands_the_command_line_to_flagman_loadtester(workdir: Path) -> None:
    refused = run_shim(workdir, "loadtester", "-port=8080", "-no-such-flag")
    assert refused.returncode == 2
    assert "flag provided but not defined: -no-such-flag" in refused.stderr
    helped = run_shim(workdir, "loadtester", "-h")
    assert helped.returncode == 0
    assert "usage: flagman loadtester" in helped.stdout + helped.stderr


def test_loadtester_shim_starts_a_serving_load_tester(workdir: Path) -> None:
    """The image's real start-up path: `./loadtester <Flagger's flags>` answers /healthz on its port."""
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["./loadtester", f"-port={port}", "-log-level=info", "-timeout=1h", "-host=127.0.0.1"],
        cwd=workdir,
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert (response.status, response.read()) == (200, b"OK")
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the load tester did not answer /healthz"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=70)


def build_context(image: str, destination: Path) -> Path:
    """The files BuildKit sends for this image: everything `!`-included by its Dockerfile.dockerignore
    (which starts by excluding `*`), without bytecode caches."""
    ignore_lines = (DOCKERFILES[image].parent / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore_lines, "the ignore file must start from nothing"
    for line in ignore_lines:
        if not line.startswith("!"):
            continue
        source = REPO / line[1:].rstrip("/")
        target = destination / line[1:].rstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    return destination


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_build_context_holds_every_copy_source_and_builds_the_wheel(image: str, tmp_path: Path) -> None:
    """What `pip install /src` does in the build stage, on exactly the files the image build receives."""
    pytest.importorskip("hatchling", reason="hatchling (dev extra) builds the wheel")
    context = build_context(image, tmp_path / "context")
    for instruction, arguments in instructions_of_all_stages(DOCKERFILES[image]):
        if instruction == "COPY" and "--from=" not in arguments:
            sources = [word for word in arguments.split()[:-1] if not word.startswith("--")]
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the build context"
    completed = subprocess.run(
        [
            str(VENV_BIN / "python"),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheels"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    import zipfile

    (wheel,) = (tmp_path / "wheels").glob("flagman-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"controller/settings.py", "controller/cli.py", "loadtester/cli.py", "flagman/cli.py"} <= names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "flagman = flagman.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
