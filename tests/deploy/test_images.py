"""images/: hadolint on both Dockerfiles, what the images carry, and the `./flagger` / `./loadtester` shims
run for real (as the image runs them: from the working directory, found through PATH's python3)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
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
    runs = " ".join(args for instruction, args in final if instruction == "RUN")
    assert values["WORKDIR"] == "/app"
    assert values["ENTRYPOINT"] == f'["./{shim}"]'
    assert values["USER"] == "10001:10001"
    assert any(i == "COPY" and args.endswith(f"images/{image}/{shim} ./{shim}") for i, args in final)
    assert "PYTHONDONTWRITEBYTECODE=1" in values["ENV"]
    assert "wget" in runs  # Flagger's exec probes
    ignore = (DOCKERFILES[image].parent / "Dockerfile.dockerignore").read_text()
    assert f"!images/{image}/{shim}" in ignore


def test_base_image_is_slim_python() -> None:
    for dockerfile in DOCKERFILES.values():
        assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in dockerfile.read_text()


def installed_debian_packages(dockerfile: Path) -> set[str]:
    final = instructions(dockerfile)
    runs = [args for instruction, args in final if instruction == "RUN" and "apt-get install" in args]
    return {
        word for run in runs for word in run.split("--no-install-recommends", 1)[1].split("&&", 1)[0].split()
    }


def test_both_images_start_with_the_same_layer() -> None:
    """The first RUN of the final stages is the same text, so the engine builds it once for both images."""
    first_runs = {
        image: next(args for instruction, args in instructions(dockerfile) if instruction == "RUN")
        for image, dockerfile in DOCKERFILES.items()
    }
    assert first_runs["controller"] == first_runs["loadtester"]
    assert "wget" in first_runs["controller"] and "--uid 10001" in first_runs["controller"]


def test_loadtester_image_carries_the_task_programs() -> None:
    """What Flagger's load tester image has for webhook tasks (fluxcd/flagger#931 asked for ghz)."""
    text = DOCKERFILES["loadtester"].read_text()
    final = dict(instructions(DOCKERFILES["loadtester"]))
    assert {"bash", "curl", "jq", "hey", "wget", "wrk", "bats"} <= installed_debian_packages(
        DOCKERFILES["loadtester"]
    )
    assert (
        "COPY --from=tools /downloads/helm /downloads/kubectl /downloads/ghz /downloads/grpc_health_probe "
        "/usr/local/bin/" in text
    )
    assert "sha256sum -c" in text  # downloaded binaries are verified
    assert 'GOFLAGS="-trimpath -mod=readonly"' in text  # go.sum pins the Go tools; nothing is resolved anew
    assert "HOME=/tmp" in final["ENV"]


def test_the_download_and_local_tools_are_the_same_versions() -> None:
    """`docker build` downloads helm/kubectl and builds ghz/grpc_health_probe; `make images` without a
    registry takes them from scripts/images/local-tools.sh: the same versions either way."""
    text = DOCKERFILES["loadtester"].read_text()
    script = (REPO / "scripts" / "images" / "local-tools.sh").read_text()
    pins = dict(re.findall(r"ARG (\w+_VERSION)=(\S+)", text))
    assert f"helm {pins['HELM_VERSION']}, kubectl {pins['KUBECTL_VERSION']}" in script
    assert f"ghz_version={pins['GHZ_VERSION']}" in script
    assert f"probe_version={pins['GRPC_HEALTH_PROBE_VERSION']}" in script
    for tool_dir, module in (
        ("ghz", "github.com/bojand/ghz"),
        ("grpc-health-probe", "github.com/grpc-ecosystem/grpc-health-probe"),
    ):
        go_mod = (IMAGES / "loadtester" / "go-tools" / tool_dir / "go.mod").read_text()
        version = pins["GHZ_VERSION" if tool_dir == "ghz" else "GRPC_HEALTH_PROBE_VERSION"]
        assert re.search(rf"^\s*{re.escape(module)} v{re.escape(version)}\b", go_mod, re.MULTILINE), go_mod
        assert (IMAGES / "loadtester" / "go-tools" / tool_dir / "go.sum").read_text().count(module) >= 2


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


IMAGE_PACKAGES = {
    "controller": {"flagman", "controller", "goconv"},
    "loadtester": {"flagman", "loadtester", "goconv"},
}


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_build_context_holds_every_copy_source(image: str, tmp_path: Path) -> None:
    context = build_context(image, tmp_path / "context")
    for instruction, arguments in instructions_of_all_stages(DOCKERFILES[image]):
        if instruction == "COPY" and "--from=" not in arguments:
            sources = [word for word in arguments.split()[:-1] if not word.startswith("--")]
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the build context"
    copied = {
        arguments.split()[0].rstrip("/")
        for instruction, arguments in instructions_of_all_stages(DOCKERFILES[image])
        if instruction == "COPY" and arguments.split()[-1].startswith("/opt/flagman/app/")
    }
    assert copied == IMAGE_PACKAGES[image]


def top_level_imports(package: Path) -> set[str]:
    """Every module a package imports anywhere (also inside functions), by its top-level name."""
    names: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


# import name -> distribution name, where they differ
DISTRIBUTION_OF = {
    "pythonjsonlogger": "python-json-logger",
    "kubernetes_asyncio": "kubernetes-asyncio",
    "prometheus_client": "prometheus-client",
    "yaml": "pyyaml",
    "google": "google-auth",
}


@pytest.mark.parametrize("image", DOCKERFILES)
def test_what_an_image_imports_is_in_the_image(image: str) -> None:
    """Each image's packages import only each other, the standard library and the locked dependencies:
    the controller image runs without the sandbox and the load tester, and the other way round."""
    imported = set().union(*(top_level_imports(REPO / package) for package in IMAGE_PACKAGES[image]))
    third_party = imported - set(sys.stdlib_module_names) - IMAGE_PACKAGES[image] - {"__future__"}
    assert not third_party & {"controller", "loadtester", "sandbox"} - IMAGE_PACKAGES[image]
    locked = locked_versions(image)
    missing = {name for name in third_party if DISTRIBUTION_OF.get(name, name) not in locked}
    assert not missing, f"imported by the {image} image's packages but not in its lock file: {missing}"


def locked_versions(image: str) -> dict[str, str]:
    text = (IMAGES / image / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", text, re.MULTILINE))
    assert pins, "no pins"
    return pins


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_lock_file_pins_every_package_with_hashes(image: str) -> None:
    text = (IMAGES / image / "requirements.txt").read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2].strip())
    assert len(entries) == len(locked_versions(image))
    for entry in entries:
        assert "==" in entry and "--hash=sha256:" in entry, entry
    assert "--require-hashes" in DOCKERFILES[image].read_text()


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_lock_inputs_are_the_projects_own_dependencies(image: str) -> None:
    """images/<image>/requirements.in lists pyproject.toml's dependencies (same specifiers) that the image
    needs; `make lock-check` (CI) then keeps requirements.txt in step with it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]

    def name_and_versions(spec: str) -> tuple[str, str]:
        """`google-auth[urllib3]>=2.20` -> ("google-auth", ">=2.20"): an image may ask for extras."""
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?(.*)", spec)
        assert match, spec
        return match.group(1).lower().replace("_", "-"), match.group(3)

    declared = dict(name_and_versions(spec) for spec in project)
    wanted = [
        line.strip()
        for line in (IMAGES / image / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for spec in wanted:
        name, versions = name_and_versions(spec)
        assert declared.get(name) == versions, (
            f"{spec} differs from pyproject.toml's {name}{declared.get(name)}"
        )
        assert name in locked_versions(image)


# --- checkov on the Dockerfiles ----------------------------------------------------------------------

# Findings accepted, with the reason.
CHECKOV_ACCEPTED = {
    # `FROM ${PYTHON_IMAGE}`: checkov does not resolve build arguments; the default is the versioned
    # python:3.11-slim-bookworm (test_base_image_is_slim_python), `make images` passes a tagged one too.
    "CKV_DOCKER_7": "base image tag from a build argument",
    # Kubernetes ignores HEALTHCHECK; the charts and kustomize probe /healthz with wget, as Flagger's do,
    # on the port the command line chooses (the load tester's default differs from the charts').
    "CKV_DOCKER_2": "HEALTHCHECK",
}


def test_checkov_finds_nothing_unaccepted_in_the_dockerfiles(tmp_path: Path) -> None:
    checkov = tool("checkov", REPO / ".tools" / "checkov-venv" / "bin" / "checkov")
    for image, dockerfile in DOCKERFILES.items():
        shutil.copy(dockerfile, tmp_path / f"{image}.Dockerfile")
    (tmp_path / "sloppy.Dockerfile").write_text("FROM python:latest\nRUN pip install x\n")
    completed = subprocess.run(
        [
            checkov,
            "--directory",
            str(tmp_path),
            "--framework",
            "dockerfile",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    report = json.loads(completed.stdout)
    failed = [
        (check["check_id"], Path(check["file_path"]).name) for check in report["results"]["failed_checks"]
    ]
    assert ("CKV_DOCKER_7", "sloppy.Dockerfile") in failed  # it does check (latest tag)
    unaccepted = sorted(
        f"{check_id} {name}"
        for check_id, name in failed
        if name != "sloppy.Dockerfile" and check_id not in CHECKOV_ACCEPTED
    )
    assert not unaccepted, "\n".join(unaccepted)
