"""`kubectl exec` into sandbox pods with real kubectl 1.31 and 1.33 (WebSocket, v5.channel.k8s.io)."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sandbox.apiserver.exec import ERROR, STDERR, STDIN, STDOUT, V4
from sandbox.apiserver.testing import ApiServer, run_kubectl_args
from sandbox.runtime.kube import PODS
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import podinfo_deployment
from tests.sandbox.runtime.test_services import SERVICE

KUBECTL_BINARIES = "/usr/lib/google-cloud-sdk/bin"
VERSIONS = ("1.31", "1.33")


def shell_pod(name: str = "shell", image: str = "busybox:1.36") -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": image,
                        "command": ["sleep", "3600"],
                        "env": [
                            {"name": "GREETING", "value": "hello from the spec"},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ],
                    }
                ]
            },
        }
    )


def kubectl_argv(server: ApiServer, version: str, *args: str) -> list[str]:
    return [f"{KUBECTL_BINARIES}/kubectl.{version}", *run_kubectl_args(server, *args)]


async def run_kubectl(
    server: ApiServer, version: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        kubectl_argv(server, version, *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **server.kubectl_env()},
    )


@pytest.fixture
async def shell(cluster: Cluster) -> AsyncIterator[Cluster]:
    """A running busybox pod `shell` (a `sleep` process), with the runtime attached as the exec backend."""
    cluster.server.runtime_hooks.exec = cluster.runtime.exec
    await cluster.kubectl("apply", "-f", "-", stdin=shell_pod())
    await cluster.kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=30s")
    yield cluster


@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_prints_stdout_stderr_and_the_exit_code(shell: Cluster, version: str) -> None:
    failed = await run_kubectl(
        shell.server, version, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert failed.returncode == 3, failed.stderr
    assert failed.stdout == "out\n"
    assert "err\n" in failed.stderr
    assert "command terminated with exit code 3" in failed.stderr

    ok = await run_kubectl(
        shell.server, version, "exec", "shell", "--", "sh", "-c", 'echo "$GREETING/$POD_NAME"; pwd'
    )
    assert ok.returncode == 0, ok.stderr
    greeting, workdir = ok.stdout.splitlines()
    assert greeting == "hello from the spec/shell"
    assert workdir == str(shell.state_dir / "pods" / "default" / "shell")
    assert ok.stderr == ""


@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_pipes_stdin_to_the_command(shell: Cluster, version: str) -> None:
    result = await run_kubectl(shell.server, version, "exec", "-i", "shell", "--", "cat", stdin="hi\nthere\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\nthere\n"

    payload = os.urandom(3 * 1024 * 1024).hex()  # 6 MB: many WebSocket messages, with back-pressure
    big = await run_kubectl(shell.server, version, "exec", "-i", "shell", "--", "sha256sum", stdin=payload)
    assert big.returncode == 0, big.stderr
    assert big.stdout.split()[0] == hashlib.sha256(payload.encode()).hexdigest()


def interactive_session(
    argv: list[str], env: dict[str, str], typed: bytes, timeout: float = 30
) -> tuple[str, int]:
    """Run `argv` on a pseudo-terminal as a user would, type `typed`, return the screen and exit code."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: kubectl with the pty as its terminal, 30 rows by 100 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.execve(argv[0], argv, env)
    screen = b""
    os.write(terminal, typed)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 0.5)
        if ready:
            try:
                data = os.read(terminal, 4096)
            except OSError:  # EIO: kubectl has exited and closed the terminal
                break
            if not data:
                break
            screen += data
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    return screen.decode(errors="replace"), os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_it_gives_an_interactive_shell(shell: Cluster, version: str) -> None:
    # the tutorial's `exec -it POD sh` needs `--` with these kubectl versions (they refuse the old form)
    argv = kubectl_argv(shell.server, version, "exec", "-it", "shell", "--", "sh")
    env = {**os.environ, **shell.server.kubectl_env()}
    screen, code = await asyncio.to_thread(
        interactive_session, argv, env, b"echo $((6*7))\nstty size\nexit\n"
    )
    assert "42" in screen.replace("$((6*7))", ""), screen
    assert "30 100" in screen, "kubectl's terminal size reaches the command (resize channel)"
    assert code == 0, screen


async def test_exec_resolves_cluster_dns_names(shell: Cluster) -> None:
    await shell.kubectl("apply", "-f", "-", stdin=SERVICE)
    await shell.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1, tag="3.1.1"))
    await shell.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    for host in ("podinfo.default", "podinfo"):  # the fully-qualified name and the namespace's short name

        async def answered(host: str = host) -> str:
            result = await run_kubectl(
                shell.server, "1.31", "exec", "shell", "--", "curl", "-s", f"http://{host}:9898/"
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        body = json.loads(await eventually(answered, what=f"an answer from {host}"))
        assert body["version"] == "3.1.1"
        assert body["hostname"].startswith("podinfo-")

    # `kubectl exec deploy/NAME` picks one of the Deployment's pods (the README's load tester example)
    in_podinfo = await run_kubectl(
        shell.server, "1.33", "exec", "deploy/podinfo", "--", "printenv", "HOSTNAME"
    )
    assert in_podinfo.returncode == 0, in_podinfo.stderr
    assert in_podinfo.stdout.startswith("podinfo-")


@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_into_a_missing_pod_or_container_fails(shell: Cluster, version: str) -> None:
    missing_pod = await run_kubectl(shell.server, version, "exec", "nope", "--", "true")
    assert missing_pod.returncode == 1
    assert 'pods "nope" not found' in missing_pod.stderr

    missing_container = await run_kubectl(shell.server, version, "exec", "shell", "-c", "nope", "--", "true")
    assert missing_container.returncode == 1
    assert (
        "Error from server (BadRequest): container nope is not valid for pod shell"
        in missing_container.stderr
    )

    missing_command = await run_kubectl(shell.server, version, "exec", "shell", "--", "no-such-command")
    assert missing_command.returncode == 127, missing_command.stderr
    assert "not found" in missing_command.stderr


async def test_exec_into_a_pod_whose_container_does_not_run_is_refused(shell: Cluster) -> None:
    await shell.kubectl("apply", "-f", "-", stdin=shell_pod("unpullable", image="example.com/unknown:1"))

    async def waiting() -> bool:
        pod = await shell.kube.get(PODS, "default", "unpullable")
        return bool((pod.get("status") or {}).get("containerStatuses"))

    await eventually(waiting, what="the pod's status")
    result = await run_kubectl(shell.server, "1.31", "exec", "unpullable", "--", "true")
    assert result.returncode == 1
    assert (
        'Error from server (NotFound): container not found ("main")'  # the kubelet's words
        in result.stderr
    )


async def test_exec_without_a_runtime_answers_a_clear_status(apiserver: ApiServer) -> None:
    manifest = json.loads(shell_pod())
    result = await run_kubectl(apiserver, "1.31", "apply", "-f", "-", stdin=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    refused = await run_kubectl(apiserver, "1.31", "exec", "shell", "--", "true")
    assert refused.returncode == 1
    assert "Error from server (ServiceUnavailable): pods/exec needs the sandbox pod runtime" in refused.stderr


async def test_exec_protocol_frames_v4_and_refuses_spdy(shell: Cluster) -> None:
    """The framing itself, through a WebSocket client offering only v4 (no close signal) and through SPDY."""
    url = f"{shell.server.url}/api/v1/namespaces/default/pods/shell/exec"
    query = [
        ("command", "sh"),
        ("command", "-c"),
        ("command", "read line; echo got $line; echo e >&2; exit 4"),  # v4: stdin never closes
    ]
    query += [("stdin", "true"), ("stdout", "true"), ("stderr", "true")]
    frames: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, params=query, protocols=(V4,)) as ws:
            assert ws.protocol == V4
            await ws.send_bytes(bytes([STDIN]) + b"x\n")
            async for message in ws:
                assert message.type == aiohttp.WSMsgType.BINARY
                frames[message.data[0]] = frames.get(message.data[0], b"") + message.data[1:]
        assert frames[STDOUT] == b"got x\n"
        assert frames[STDERR] == b"e\n"
        status = json.loads(frames[ERROR])
        assert status["status"] == "Failure"
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]

        async with session.post(url, params=query, headers={"Upgrade": "SPDY/3.1"}) as spdy:
            assert spdy.status == 400
            assert "speaks only the WebSocket remote command protocol" in (await spdy.json())["message"]
        async with session.get(url, params=[("command", "true")]) as no_streams:
            assert no_streams.status == 400
            assert (await no_streams.json())[
                "message"
            ] == "you must specify at least 1 of stdin, stdout, stderr"
