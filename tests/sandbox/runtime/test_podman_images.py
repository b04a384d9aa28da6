"""`--pod-runtime podman` without podman: which containers it takes, the `podman run` it builds for the
chart's controller pod, and the errors a user meets. The containers themselves start in
tests/images/test_sandbox_podman.py (`make images && make test-images`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.runtime.podman_images import (
    PodmanImages,
    PodmanUnavailable,
    network_option,
    runs_in_podman,
    security_options,
)
from sandbox.runtime.processes import PodContext


@pytest.mark.parametrize(
    ("image", "podman"),
    [
        ("ghcr.io/flagman/controller:0.1.0", True),
        ("registry.example/flagman/loadtester:dev", True),
        ("ghcr.io/flagman/loadtester", True),
        ("ghcr.io/fluxcd/flagger:1.38.0", False),  # Flagger's own image: no such image in podman's store
        ("stefanprodan/podinfo:3.1.0", False),
        ("docker.io/prom/prometheus:v2.55.1", False),
    ],
)
def test_only_the_images_make_images_builds_run_in_podman(image: str, podman: bool) -> None:
    assert runs_in_podman({"name": "c", "image": image}) is podman


def test_the_pod_network_becomes_podmans() -> None:
    assert network_option(PodContext()) == "--network=host"
    node = PodContext(enter=("nsenter", "--net=/run/netns/flagman-pod-1", "--"))
    assert network_option(node) == "--network=ns:/run/netns/flagman-pod-1"
    with pytest.raises(ValueError, match="cannot enter"):
        network_option(PodContext(enter=("ip", "netns", "exec", "x")))


def controller_pod() -> dict[str, Any]:
    """The chart's controller pod (charts/flagman/templates/deployment.yaml), as the API server holds it."""
    return {
        "metadata": {"name": "flagger-abc", "namespace": "flagger", "uid": "u1"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1, "seccompProfile": {"type": "x"}},
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, {"name": "cm", "configMap": {}}],
            "containers": [
                {
                    "name": "flagger",
                    "image": "ghcr.io/flagman/controller:0.1.0",
                    "command": ["./flagger", "-log-level=info", "-mesh-provider=kubernetes"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "readOnlyRootFilesystem": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "cm", "mountPath": "/c"}],
                }
            ],
        },
    }


def test_the_security_context_is_the_containers_over_the_pods() -> None:
    pod = controller_pod()
    (container,) = pod["spec"]["containers"]
    assert security_options(pod, container) == [
        "--user=10001:10001",
        "--read-only",
        "--read-only-tmpfs=false",
        "--cap-drop=all",
        "--cap-add=net_bind_service",
        "--security-opt=no-new-privileges",
    ]
    assert security_options(pod, {"name": "bare"}) == ["--user=1"]  # the pod's user, no group


def test_the_podman_run_of_the_charts_controller_pod(tmp_path: Path) -> None:
    pod = controller_pod()
    (container,) = pod["spec"]["containers"]
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    hosts.chmod(0o600)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    kubeconfig.chmod(0o600)
    images = PodmanImages(podman="/usr/bin/podman", label=str(tmp_path), environ={})
    name = images.container_name("flagger", "flagger-abc", "flagger")
    argv = images.run_argv(
        name,
        pod,
        container,
        "127.42.1.7",
        PodContext.with_hosts(hosts),
        {"KUBECONFIG": str(kubeconfig), "POD_NAME": "flagger-abc"},
        tmp_path / "files",
    )
    assert argv[:3] == ["/usr/bin/podman", "run", "--rm"]
    assert "--pull=never" in argv and "--network=host" in argv and f"--name={name}" in argv
    assert f"--label=io.flagman.sandbox={tmp_path}" in argv
    assert "--tmpfs=/tmp:rw,exec,mode=1777" in argv  # the emptyDir; the ConfigMap volume is not given
    assert not any(option.startswith("--tmpfs=/c") or ":/c" in option for option in argv)
    assert f"--volume={hosts}:/etc/hosts:ro" in argv
    assert hosts.stat().st_mode & 0o004  # uid 10001 reads it
    copy = tmp_path / "files" / "kubeconfig"
    assert f"--volume={copy}:{kubeconfig}:ro" in argv and copy.stat().st_mode & 0o777 == 0o644
    assert f"--env=KUBECONFIG={kubeconfig}" in argv and "--env=POD_NAME=flagger-abc" in argv
    # the image's own entrypoint (./flagger) with the command's flags, bound to the pod IP
    image_at = argv.index("ghcr.io/flagman/controller:0.1.0")
    assert argv[image_at + 1 :] == [
        "-log-level=info",
        "-mesh-provider=kubernetes",
        "-listen-address=127.42.1.7",
    ]
    assert name.startswith("flagman-") and name.endswith("-flagger-flagger-abc-flagger")


def test_another_command_in_the_loadtester_image_replaces_its_entrypoint(tmp_path: Path) -> None:
    images = PodmanImages(podman="podman", label="x", environ={})
    pod = {"metadata": {"name": "t", "namespace": "test"}, "spec": {}}
    container = {"name": "test", "image": "ghcr.io/flagman/loadtester:0.1.0", "command": ["sh", "-c"]}
    container["args"] = ["curl -s http://podinfo:9898"]
    argv = images.run_argv("n", pod, container, "127.42.1.8", PodContext(), {}, tmp_path)
    assert argv[-3:] == ['--entrypoint=["sh", "-c"]', container["image"], "curl -s http://podinfo:9898"]
    tester = {"name": "loadtester", "image": "ghcr.io/flagman/loadtester:0.1.0", "command": ["./loadtester"]}
    tester["args"] = ["-port=8080"]
    argv = images.run_argv("n", pod, tester, "127.42.1.8", PodContext(), {}, tmp_path)
    assert argv[-4:] == [tester["image"], "--host", "127.42.1.8", "-port=8080"]


@pytest.mark.slow  # two `flagman` processes
def test_without_podman_the_runtime_and_sandbox_up_say_what_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(empty))
        with pytest.raises(PodmanUnavailable, match=r"needs podman .*make images"):
            PodmanImages.find("x")
    up = [sys.executable, "-m", "flagman", "sandbox", "up", "--state-dir", str(tmp_path / "s")]
    result = subprocess.run(
        [*up, "--pod-runtime", "podman"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert "--pod-runtime podman needs podman" in result.stderr
    env["FLAGMAN_POD_RUNTIME"] = "docker"
    result = subprocess.run(up, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "unknown pod runtime 'docker' (--pod-runtime or $FLAGMAN_POD_RUNTIME)" in result.stderr
