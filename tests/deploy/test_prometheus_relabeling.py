"""The bundled Prometheus config, run by a real Prometheus: the relabeling yields the labels the builtin
kubernetes-provider checks filter on (`kubernetes_namespace`, `kubernetes_pod_name`, Flagger issue #883).

Debian's Prometheus is built without Kubernetes service discovery, so the test swaps the job's
`kubernetes_sd_configs` for a `file_sd_configs` whose targets carry exactly the `__meta_kubernetes_*`
labels pod discovery would attach; every relabel step of the shipped config then runs unchanged.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.deploy.tooling import CHARTS, KUSTOMIZE, find, helm_template, run, tool

CHART_CONFIG = CHARTS / "flagman" / "files" / "prometheus.yml"
KUSTOMIZE_CONFIG = KUSTOMIZE / "base" / "prometheus" / "prometheus.yml"


def pod_target(
    name: str, namespace: str, annotations: dict[str, str], labels: dict[str, str]
) -> dict[str, Any]:
    """One pod as Kubernetes pod discovery presents it (one target per declared container port)."""
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        **{f"__meta_kubernetes_pod_annotation_{key}": value for key, value in annotations.items()},
        **{f"__meta_kubernetes_pod_label_{key}": value for key, value in labels.items()},
    }
    return {"targets": ["127.0.0.1:9898"], "labels": meta}


PODS = [
    pod_target(
        "podinfo-7b9f6c8d5-x2x8q",
        "test",
        {"prometheus_io_scrape": "true", "prometheus_io_port": "9797"},
        {"app": "podinfo", "pod_template_hash": "7b9f6c8d5"},
    ),
    pod_target(
        "flagger-loadtester-5c7d9-abcde",
        "test",
        {"prometheus_io_scrape": "true", "prometheus_io_port": "8080", "prometheus_io_path": "/custom"},
        {"app": "flagger-loadtester"},
    ),
    pod_target("unannotated-6d5f-zzzzz", "test", {}, {"app": "other"}),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=2) as response:
        body: dict[str, Any] = json.load(response)
        return body


@pytest.fixture(scope="module")
def prometheus_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    binary = tool("prometheus")
    tmp_path = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load(CHART_CONFIG.read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "kubernetes-pods")
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    (tmp_path / "pods.json").write_text(json.dumps(PODS))
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    job["scrape_interval"] = "1h"  # discovery is what is under test, not scraping
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    run([tool("promtool"), "check", "config", str(config_file)])
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                data = get_json(f"http://127.0.0.1:{port}/api/v1/targets?state=any")["data"]
                if len(data["activeTargets"]) + len(data["droppedTargets"]) == len(PODS):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, stderr = process.communicate(timeout=5) if process.poll() is not None else (None, b"")
                pytest.fail(f"prometheus did not discover the targets: {stderr!r}")
            time.sleep(0.1)
        yield data
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_annotated_pods_get_kubernetes_namespace_and_pod_name(prometheus_targets: dict[str, Any]) -> None:
    active = {
        target["labels"]["kubernetes_pod_name"]: target for target in prometheus_targets["activeTargets"]
    }
    assert sorted(active) == ["flagger-loadtester-5c7d9-abcde", "podinfo-7b9f6c8d5-x2x8q"]
    podinfo = active["podinfo-7b9f6c8d5-x2x8q"]
    assert podinfo["labels"]["kubernetes_namespace"] == "test"
    assert podinfo["labels"]["app"] == "podinfo"
    assert podinfo["labels"]["pod_template_hash"] == "7b9f6c8d5"
    assert podinfo["scrapeUrl"] == "http://127.0.0.1:9797/metrics"
    assert active["flagger-loadtester-5c7d9-abcde"]["scrapeUrl"] == "http://127.0.0.1:8080/custom"


def test_the_builtin_pod_name_regex_matches_what_relabeling_produces(
    prometheus_targets: dict[str, Any],
) -> None:
    """Flagger's builtin queries select `kubernetes_pod_name=~"<target>-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`."""
    import re

    names = [target["labels"]["kubernetes_pod_name"] for target in prometheus_targets["activeTargets"]]
    assert [name for name in names if re.fullmatch(r"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", name)] == [
        "podinfo-7b9f6c8d5-x2x8q"
    ]


def test_pods_without_the_scrape_annotation_are_dropped(prometheus_targets: dict[str, Any]) -> None:
    dropped = prometheus_targets["droppedTargets"]
    assert [target["discoveredLabels"]["__meta_kubernetes_pod_name"] for target in dropped] == [
        "unannotated-6d5f-zzzzz"
    ]


def test_chart_and_kustomize_ship_the_same_prometheus_config() -> None:
    assert KUSTOMIZE_CONFIG.read_bytes() == CHART_CONFIG.read_bytes()


def test_the_chart_renders_the_config_file_verbatim() -> None:
    objects = helm_template("flagman", "flagger", "flagger", {"prometheus.install": True})
    rendered = find(objects, "ConfigMap", "flagger-prometheus")["data"]["prometheus.yml"]
    assert rendered == CHART_CONFIG.read_text().rstrip("\n")
