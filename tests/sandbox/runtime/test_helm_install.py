"""The tutorial's `helm upgrade -i flagger ... --set prometheus.install=true` runs in the sandbox.

The real helm installs charts/flagman against the sandbox API server; the runtime runs the controller pod
as `python -m controller` bound to its pod IP and the chart's Prometheus as the real /usr/bin/prometheus
with its Kubernetes pod discovery translated to a file (`promconfig`, `pod_discovery`). Unit tests below
pin the translations; the integration test follows the whole install.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from sandbox import demo
from sandbox.runtime.images import UnknownImage, argv_for, prometheus_files
from sandbox.runtime.kube import DEPLOYMENTS, PODS, Resource
from sandbox.runtime.pod_discovery import pod_groups
from sandbox.runtime.promconfig import ContainerSetupError, translate
from sandbox.runtime.serviceaccount import service_account_env
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import podinfo_deployment, pods_of

REPO = Path(__file__).resolve().parents[3]
HELM = REPO / ".tools" / "bin" / "helm"
CHART = REPO / "charts" / "flagman"
CHART_PROMETHEUS_CONFIG = CHART / "files" / "prometheus.yml"
CANARIES = Resource("/apis/flagger.app/v1beta1", "canaries", "Canary", "flagger.app/v1beta1")
#: The tutorial's install command (the chart path is ours).
TUTORIAL_HELM_INSTALL = [
    "upgrade",
    "-i",
    "flagger",
    str(CHART),
    "--namespace",
    "flagger",
    "--create-namespace",
    "--set",
    "prometheus.install=true",
    "--set",
    "meshProvider=kubernetes",
]


# -- images: the controller ----------------------------------------------------------------------


@pytest.mark.parametrize("image", ["ghcr.io/flagman/controller:0.1.0", "ghcr.io/fluxcd/flagger:1.38.0"])
def test_controller_images_run_python_m_controller_with_flaggers_flags(image: str) -> None:
    container = {
        "image": image,
        "command": ["./flagger", "-log-level=info", "-mesh-provider=kubernetes"],
        "args": ["-metrics-server=http://flagger-prometheus:9090"],
    }
    argv = argv_for(container, "127.50.0.7", python="py")
    assert argv == [
        "py",
        "-m",
        "controller",
        "-log-level=info",
        "-mesh-provider=kubernetes",
        "-metrics-server=http://flagger-prometheus:9090",
        "-listen-address=127.50.0.7",
    ]


def test_controller_listen_address_given_by_the_manifest_is_kept() -> None:
    container = {"image": "ghcr.io/flagman/controller:0.1.0", "command": ["flagman", "controller"]}
    container["args"] = ["--listen-address", "127.0.0.5"]
    assert argv_for(container, "127.50.0.7", python="py") == [
        "py",
        "-m",
        "controller",
        "--listen-address",
        "127.0.0.5",
    ]


def test_the_load_tester_image_is_not_taken_for_the_controller() -> None:
    argv = argv_for({"image": "ghcr.io/fluxcd/flagger-loadtester:0.34.0"}, "127.50.0.7", python="py")
    assert argv[:3] == ["py", "-m", "loadtester"]
    with pytest.raises(UnknownImage):
        argv_for({"image": "ghcr.io/fluxcd/flagger-other:1.0"}, "127.50.0.7")


# -- images: Prometheus ----------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["docker.io/prom/prometheus:v2.55.1", "quay.io/prometheus/prometheus"])
def test_prometheus_image_runs_the_local_binary_on_the_pod_ip(image: str, tmp_path: Path) -> None:
    container = {
        "image": image,
        "args": [
            "--storage.tsdb.retention.time=2h",
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path",
            "/prometheus/data",
            "--web.listen-address=0.0.0.0:9091",
        ],
    }
    config_file, data_dir = prometheus_files(tmp_path)
    assert argv_for(container, "127.50.0.8", pod_dir=tmp_path) == [
        "/usr/bin/prometheus",
        "--storage.tsdb.retention.time=2h",
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        "--web.listen-address=127.50.0.8:9091",
    ]


def test_kubernetes_pod_discovery_becomes_the_runtimes_file(tmp_path: Path) -> None:
    discovery = tmp_path / "pods.json"
    translated = yaml.safe_load(translate(CHART_PROMETHEUS_CONFIG.read_text(), discovery, "flagger"))
    job = translated["scrape_configs"][0]
    assert "kubernetes_sd_configs" not in job
    assert job["file_sd_configs"] == [{"files": [str(discovery)], "refresh_interval": "5s"}]
    original = yaml.safe_load(CHART_PROMETHEUS_CONFIG.read_text())["scrape_configs"][0]
    assert job["relabel_configs"] == original["relabel_configs"]  # the chart's relabelling, unchanged


def test_namespace_selection_becomes_a_keep_rule(tmp_path: Path) -> None:
    config = {
        "scrape_configs": [
            {
                "job_name": "pods",
                "kubernetes_sd_configs": [
                    {"role": "pod", "namespaces": {"names": ["test"], "own_namespace": True}}
                ],
                "relabel_configs": [{"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"}],
            }
        ]
    }
    job = yaml.safe_load(translate(yaml.safe_dump(config), tmp_path / "f.json", "flagger"))["scrape_configs"][
        0
    ]
    assert job["relabel_configs"][0] == {
        "action": "keep",
        "source_labels": ["__meta_kubernetes_namespace"],
        "regex": "flagger|test",
    }
    assert len(job["relabel_configs"]) == 2


@pytest.mark.parametrize(
    ("sd", "message"),
    [
        ({"role": "endpoints"}, "role 'endpoints' is not available"),
        ({"role": "pod", "selectors": [{"role": "pod", "label": "app=x"}]}, "selectors cannot be translated"),
    ],
)
def test_what_the_file_cannot_stand_in_for_is_refused(
    sd: dict[str, Any], message: str, tmp_path: Path
) -> None:
    config = {"scrape_configs": [{"job_name": "x", "kubernetes_sd_configs": [sd]}]}
    with pytest.raises(ContainerSetupError, match=message):
        translate(yaml.safe_dump(config), tmp_path / "f.json", "flagger")
    with pytest.raises(ContainerSetupError, match="not valid YAML"):
        translate("scrape_configs: [", tmp_path / "f.json", "flagger")


def test_pod_discovery_labels_match_kubernetes_sd() -> None:
    pod = {
        "metadata": {
            "name": "podinfo-abc",
            "namespace": "test",
            "uid": "u1",
            "labels": {"app": "podinfo", "app.kubernetes.io/name": "podinfo"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "podinfo-1", "controller": True}],
        },
        "spec": {
            "nodeName": "sandbox",
            "containers": [
                {"name": "app", "image": "podinfo:1", "ports": [{"name": "http", "containerPort": 9898}]},
                {"name": "sidecar", "image": "busybox"},
            ],
        },
        "status": {
            "podIP": "127.50.0.9",
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    first, second = pod_groups(pod)
    assert first["targets"] == ["127.50.0.9:9898"]
    assert second["targets"] == ["127.50.0.9"]  # a container without ports: one port-less target
    labels = first["labels"]
    assert labels["__meta_kubernetes_namespace"] == "test"
    assert labels["__meta_kubernetes_pod_name"] == "podinfo-abc"
    assert labels["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == "podinfo"
    assert labels["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] == "true"
    assert labels["__meta_kubernetes_pod_container_port_name"] == "http"
    assert labels["__meta_kubernetes_pod_ready"] == "true"
    assert labels["__meta_kubernetes_pod_controller_kind"] == "ReplicaSet"
    assert pod_groups({**pod, "status": {}}) == []  # no IP yet: no target


def test_service_account_files_and_kubeconfig(tmp_path: Path) -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "flagger", "uid": "u"},
        "spec": {"serviceAccountName": "flagger"},
    }
    env = service_account_env(pod, tmp_path, "http://127.50.0.1:6443")
    kubeconfig = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "http://127.50.0.1:6443"
    assert kubeconfig["users"][0]["name"] == "system:serviceaccount:flagger:flagger"
    assert kubeconfig["contexts"][0]["context"]["namespace"] == "flagger"
    assert (tmp_path / "serviceaccount" / "namespace").read_text() == "flagger"
    assert "KUBERNETES_SERVICE_HOST" not in env


# -- the install, end to end -----------------------------------------------------------------------


async def helm(cluster: Cluster, *args: str) -> str:
    result = await asyncio.to_thread(
        subprocess.run,
        [str(HELM), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **cluster.server.kubectl_env()},
    )
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def pod_ip(cluster: Cluster, namespace: str, name_prefix: str) -> str:
    pods = (await cluster.kube.list(PODS, namespace))["items"]
    for pod in pods:
        if pod["metadata"]["name"].startswith(name_prefix) and (pod.get("status") or {}).get("podIP"):
            return str(pod["status"]["podIP"])
    raise AssertionError(f"no {namespace}/{name_prefix}* pod with an IP")


async def get(url: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text.startswith(("{", "[")) else text


def canary(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "service": {"port": 9898},
                "analysis": {"interval": "1s", "threshold": 2, "iterations": 2},
            },
        }
    )


@pytest.mark.timeout(240)
async def test_tutorial_helm_install_runs_the_controller_and_its_prometheus(cluster: Cluster) -> None:
    await helm(cluster, *TUTORIAL_HELM_INSTALL)
    await cluster.kubectl("-n", "flagger", "rollout", "status", "deployment/flagger", "--timeout=90s")
    await cluster.kubectl(
        "-n", "flagger", "rollout", "status", "deployment/flagger-prometheus", "--timeout=90s"
    )

    controller_ip = await pod_ip(cluster, "flagger", "flagger-")
    status, body = await get(f"http://{controller_ip}:8080/healthz")
    assert status == 200, body
    # bound to its pod IP, not to every address of the machine (this one is in the runtime's block, unused)
    with pytest.raises(aiohttp.ClientError):
        await get(f"http://127.{cluster.runtime.settings.second_octet}.200.200:8080/healthz")

    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    await cluster.kubectl("apply", "-f", "-", stdin=canary("podinfo"))

    async def primary_created() -> bool:
        deployments = (await cluster.kube.list(DEPLOYMENTS, "default"))["items"]
        return any(d["metadata"]["name"] == "podinfo-primary" for d in deployments)

    await eventually(primary_created, within=60, what="the controller pod to bootstrap podinfo-primary")

    prometheus_ip = await pod_ip(cluster, "flagger", "flagger-prometheus-")
    podinfo_pods = {str(p["metadata"]["name"]) for p in await pods_of(cluster, "podinfo")}  # type: ignore[index]

    async def podinfo_series() -> list[dict[str, Any]]:
        status, body = await get(
            f"http://{prometheus_ip}:9090/api/v1/query?query=up%7Bkubernetes_namespace%3D%22default%22%7D"
        )
        assert status == 200, body
        return [r for r in body["data"]["result"] if r["metric"].get("kubernetes_pod_name") in podinfo_pods]

    series = await eventually(podinfo_series, within=60, what="the chart's Prometheus to scrape podinfo")
    assert series[0]["metric"]["app"] == "podinfo"  # the chart's labelmap ran on the discovery labels
    assert series[0]["value"][1] == "1"

    canary_obj = await cluster.kube.get(CANARIES, "default", "podinfo")
    assert canary_obj["metadata"]["name"] == "podinfo"


# -- the demo's helm command -----------------------------------------------------------------------


def test_demo_helm_command_is_the_tutorials_plus_the_analysis_bound_and_scrape_interval() -> None:
    settings = demo.DemoSettings(install="helm", min_analysis_interval="1s")
    args = demo.helm_install_args(settings)
    assert args[: len(TUTORIAL_HELM_INSTALL)] == TUTORIAL_HELM_INSTALL
    # the chart's Prometheus scrapes as often as the sandbox's own, so the tutorial's threshold holds
    assert settings.threshold == demo.DemoSettings().threshold == demo.parse_args([]).threshold == 2
    rendered = subprocess.run(
        [str(HELM), "template", *args[2:]], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    objects = [d for d in yaml.safe_load_all(rendered) if d]
    deployments = {d["metadata"]["name"]: d for d in objects if d.get("kind") == "Deployment"}
    controller = deployments["flagger"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "FLAGMAN_MIN_ANALYSIS_INTERVAL", "value": "1s"} in controller["env"]
    assert "-metrics-server=http://flagger-prometheus:9090" in controller["command"]
    assert "flagger-prometheus" in deployments
    config_map = next(
        d for d in objects if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "flagger-prometheus"
    )
    assert yaml.safe_load(config_map["data"]["prometheus.yml"])["global"]["scrape_interval"] == "1s"


def test_demo_parses_the_install_option() -> None:
    assert demo.parse_args(["--install", "helm"]).install == "helm"
    assert demo.parse_args([]).install == "helm"  # as reliable as `process` in 3 runs each: the default
    assert demo.parse_args(["--install", "process"]).install == "process"
    with pytest.raises(SystemExit):
        demo.parse_args(["--install", "kustomize"])
