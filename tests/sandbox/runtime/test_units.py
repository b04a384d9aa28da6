"""Small pieces of the runtime: images, probe commands, scrape targets, hosts file, addresses, logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.runtime.hostsfile import HostsFile
from sandbox.runtime.images import UnknownImage, argv_for, parse_image
from sandbox.runtime.logs import read_log
from sandbox.runtime.loopback import AddressesExhausted, LoopbackPool, pod_pool, service_pool
from sandbox.runtime.probes import exec_probe_url
from sandbox.runtime.scrape_targets import pod_targets


def test_parse_image() -> None:
    assert parse_image("ghcr.io/stefanprodan/podinfo:6.0.0").tag == "6.0.0"
    assert parse_image("localhost:5000/podinfo").tag == "latest"
    assert parse_image("stefanprodan/podinfo:3.1.1@sha256:abc").name == "podinfo"


def test_podinfo_image_runs_the_demo_app_with_ports_from_its_command() -> None:
    container = {
        "image": "stefanprodan/podinfo:3.1.1",
        "command": ["./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999"],
    }
    argv = argv_for(container, "127.9.1.1", python="py")
    assert argv == [
        *("py", "-m", "sandbox.apps.podinfo", "--host", "127.9.1.1", "--port", "9898"),
        *("--metrics-port", "9797", "--version", "3.1.1"),
    ]


def test_loadtester_image_keeps_flagger_flags_and_adds_host() -> None:
    container = {
        "image": "ghcr.io/fluxcd/flagger-loadtester:0.38.0",
        "command": ["./loadtester", "-port=8080"],
    }
    assert argv_for(container, "127.9.1.2", python="py") == [
        "py",
        "-m",
        "loadtester",
        "--host",
        "127.9.1.2",
        "-port=8080",
    ]


def test_unknown_image_says_what_runs() -> None:
    with pytest.raises(UnknownImage, match=r'Failed to pull image "nginx:1".*podinfo'):
        argv_for({"image": "nginx:1"}, "127.9.1.3")


@pytest.mark.parametrize(
    ("command", "url"),
    [
        (["podcli", "check", "http", "localhost:9898/readyz"], "http://127.5.5.5:9898/readyz"),
        (["wget", "--spider", "-q", "http://localhost:8080/healthz"], "http://127.5.5.5:8080/healthz"),
        (["/usr/bin/curl", "-f", "http://other:80/"], "http://other:80/"),
        (["sh", "-c", "true"], None),
    ],
)
def test_exec_probes_that_fetch_a_url_become_http_gets_on_the_pod_ip(
    command: list[str], url: str | None
) -> None:
    assert exec_probe_url(command, "127.5.5.5") == url


def pod(**annotations: str) -> dict[str, object]:
    return {
        "metadata": {
            "name": "podinfo-abc-def",
            "namespace": "test",
            "labels": {"app": "podinfo", "app.kubernetes.io/name": "x"},
            "annotations": annotations,
        },
        "spec": {"containers": [{"ports": [{"containerPort": 9898}]}]},
        "status": {"phase": "Running", "podIP": "127.9.1.1"},
    }


def test_scrape_targets_carry_flaggers_kubernetes_labels() -> None:
    [group] = pod_targets(pod(**{"prometheus.io/scrape": "true", "prometheus.io/port": "9797"}))
    assert group["targets"] == ["127.9.1.1:9797"]
    labels = group["labels"]
    assert labels["kubernetes_namespace"] == "test"
    assert labels["kubernetes_pod_name"] == "podinfo-abc-def"
    assert labels["app_kubernetes_io_name"] == "x"


def test_unannotated_pods_are_not_scraped_and_the_port_defaults_to_container_ports() -> None:
    assert pod_targets(pod()) == []
    [group] = pod_targets(pod(**{"prometheus.io/scrape": "true", "prometheus.io/path": "/m"}))
    assert group["targets"] == ["127.9.1.1:9898"]
    assert group["labels"]["__metrics_path__"] == "/m"


def test_hosts_file_is_rewritten_in_place(tmp_path: Path) -> None:
    hosts = HostsFile(tmp_path / "hosts", base="127.0.0.1 localhost\n")
    inode = os.stat(hosts.path).st_ino
    hosts.set(("test", "podinfo-canary"), "127.9.128.1")
    text = hosts.path.read_text()
    assert (
        "127.9.128.1\tpodinfo-canary.test podinfo-canary.test.svc podinfo-canary.test.svc.cluster.local"
        in text
    )
    hosts.remove(("test", "podinfo-canary"))
    assert "podinfo-canary" not in hosts.path.read_text()
    assert os.stat(hosts.path).st_ino == inode, "a bind mount pins the inode"
    hosts.set(("test", "podinfo"), "127.9.128.2")
    hosts.set(("prod", "podinfo"), "127.9.128.3")
    test_file = hosts.path_for("test")
    assert (
        "127.9.128.2\tpodinfo.test podinfo.test.svc podinfo.test.svc.cluster.local podinfo\n"
        in test_file.read_text()
    )
    assert (
        "127.9.128.3\tpodinfo.prod podinfo.prod.svc podinfo.prod.svc.cluster.local\n" in test_file.read_text()
    )
    test_inode = os.stat(test_file).st_ino
    hosts.remove(("test", "podinfo"))
    assert "podinfo.test" not in test_file.read_text() and os.stat(test_file).st_ino == test_inode
    again = HostsFile(tmp_path / "hosts", base=text)
    assert again.render().count("sandbox services") == 1


def test_loopback_pools_do_not_overlap_and_reuse_addresses() -> None:
    pods, services = pod_pool(9), service_pool(9)
    first = pods.allocate("a")
    assert pods.allocate("a") == first
    assert first in pods and first not in services
    assert services.allocate("svc") in services
    pods.release("a")
    assert pods.owner_of(first) is None
    tiny = LoopbackPool(9, range(1, 2))
    for index in range(254):
        tiny.allocate(str(index))
    with pytest.raises(AddressesExhausted):
        tiny.allocate("one too many")


def test_read_log_tail(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_text("a\nb\nc\n")
    assert read_log(path, {"tailLines": "2"}) == "b\nc\n"
    assert read_log(path, {}) == "a\nb\nc\n"
    assert read_log(tmp_path / "missing.log", {}) == ""
