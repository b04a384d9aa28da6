"""Deployments become ReplicaSets and running podinfo processes with real status."""

from __future__ import annotations

import json
import os

import aiohttp

from sandbox.runtime.kube import DEPLOYMENTS, PODS, REPLICASETS
from tests.sandbox.runtime.conftest import Cluster, eventually


def podinfo_deployment(name: str = "podinfo", replicas: int = 2, tag: str = "6.0.0", **spec: object) -> str:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9797"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": f"ghcr.io/stefanprodan/podinfo:{tag}",
                            "command": ["./podinfo", "--port=9898", "--port-metrics=9797", "--level=info"],
                            "ports": [{"name": "http", "containerPort": 9898}],
                            "readinessProbe": {
                                "exec": {"command": ["podcli", "check", "http", "localhost:9898/readyz"]},
                                "periodSeconds": 1,
                            },
                        }
                    ]
                },
            },
            **spec,
        },
    }
    return json.dumps(manifest)


async def pods_of(cluster: Cluster, app: str) -> list[dict[str, object]]:
    listing = await cluster.kube.list(PODS, "default")
    return [p for p in listing["items"] if p["metadata"].get("labels", {}).get("app") == app]


async def fetch_json(url: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return dict(await response.json())


async def test_deployment_runs_podinfo_processes_with_real_status(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment())
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")

    deployment = await cluster.kube.get(DEPLOYMENTS, "default", "podinfo")
    status = deployment["status"]
    assert status["observedGeneration"] == deployment["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"]) == (2, 2, 2)
    assert status["availableReplicas"] == 2 and status["unavailableReplicas"] == 0
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"

    pods = await pods_of(cluster, "podinfo")
    assert len(pods) == 2
    for pod in pods:
        pod_status = pod["status"]
        assert isinstance(pod_status, dict)
        assert pod_status["phase"] == "Running"
        assert pod_status["podIP"].startswith(f"127.{cluster.runtime.settings.second_octet}.")
        assert pod_status["containerStatuses"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.0"
        assert pod_status["containerStatuses"][0]["ready"] is True
        name = pod["metadata"]["name"]  # type: ignore[index]
        assert str(name).startswith("podinfo-")
        info = await fetch_json(f"http://{pod_status['podIP']}:9898/")
        assert info["version"] == "6.0.0"
        assert info["hostname"] == name
    assert len({p["status"]["podIP"] for p in pods}) == 2  # type: ignore[index]


async def test_set_image_rolls_out_a_new_replica_set(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=2))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    await cluster.kubectl("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")

    async def only_new_pods() -> bool:
        pods = await pods_of(cluster, "podinfo")
        images = {p["status"]["containerStatuses"][0]["image"] for p in pods}  # type: ignore[index]
        return len(pods) == 2 and images == {"ghcr.io/stefanprodan/podinfo:6.0.1"}

    await eventually(only_new_pods, what="old pods to be replaced")
    for pod in await pods_of(cluster, "podinfo"):
        info = await fetch_json(f"http://{pod['status']['podIP']}:9898/version")  # type: ignore[index]
        assert info["version"] == "6.0.1"
    replica_sets = (await cluster.kube.list(REPLICASETS, "default"))["items"]
    assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [0, 2]
    assert {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in replica_sets} == {
        "1",
        "2",
    }


async def test_scale_to_zero_kills_processes_and_back(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    worker = next(iter(cluster.runtime.pods.workers.values()))
    pid = worker.containers[0].process.pid  # type: ignore[union-attr]
    assert pid is not None
    os.kill(pid, 0)  # the process exists

    await cluster.kubectl("scale", "deployment/podinfo", "--replicas=0")

    async def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return not await pods_of(cluster, "podinfo")
        return False

    await eventually(gone, what="the podinfo process to be killed")
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=30s")
    status = (await cluster.kube.get(DEPLOYMENTS, "default", "podinfo"))["status"]
    assert status["replicas"] == 0 and status["availableReplicas"] == 0

    await cluster.kubectl("scale", "deployment/podinfo", "--replicas=1")
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    assert len(await pods_of(cluster, "podinfo")) == 1


async def test_unknown_image_stays_pending_with_a_warning(cluster: Cluster) -> None:
    manifest = podinfo_deployment(name="mystery").replace(
        "ghcr.io/stefanprodan/podinfo:6.0.0", "docker.io/library/nginx:1.27"
    )
    await cluster.kubectl("apply", "-f", "-", stdin=manifest)

    async def pending_pod() -> dict[str, object] | None:
        pods = await pods_of(cluster, "mystery")
        waiting = [p for p in pods if p["status"].get("containerStatuses")]  # type: ignore[union-attr]
        return waiting[0] if waiting else None

    pod = await eventually(pending_pod, what="the pod status")
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert "nginx:1.27" in waiting["message"]
    events = await cluster.kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={pod['metadata']['name']}"
    )
    assert "Failed to pull image" in events
    status = (await cluster.kube.get(DEPLOYMENTS, "default", "mystery"))["status"]
    assert status["availableReplicas"] == 0 and status["unavailableReplicas"] == 2


async def test_progress_deadline_exceeded_fails_rollout_status(cluster: Cluster) -> None:
    manifest = podinfo_deployment(name="stuck", replicas=1, progressDeadlineSeconds=1).replace(
        "ghcr.io/stefanprodan/podinfo:6.0.0", "example.com/unknown:1"
    )
    await cluster.kubectl("apply", "-f", "-", stdin=manifest)

    async def exceeded() -> bool:
        status = (await cluster.kube.get(DEPLOYMENTS, "default", "stuck")).get("status", {})
        reasons = {c["type"]: c.get("reason") for c in status.get("conditions", [])}
        return reasons.get("Progressing") == "ProgressDeadlineExceeded"

    await eventually(exceeded, within=15, what="ProgressDeadlineExceeded")
    output = await cluster.kubectl("rollout", "status", "deployment/stuck", "--timeout=10s", check=False)
    assert "exceeded its progress deadline" in output


async def test_pod_logs_reach_kubectl_logs(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    pod = (await pods_of(cluster, "podinfo"))[0]
    output = await cluster.kubectl("logs", str(pod["metadata"]["name"]))  # type: ignore[index]
    assert "Starting podinfo" in output


async def test_deleting_the_deployment_stops_its_pods(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=2))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    pids = [w.containers[0].process.pid for w in cluster.runtime.pods.workers.values()]  # type: ignore[union-attr]
    assert len(pids) == 2
    await cluster.kubectl("delete", "deployment", "podinfo")

    async def all_gone() -> bool:
        for pid in pids:
            try:
                os.kill(pid, 0)  # type: ignore[arg-type]
                return False
            except ProcessLookupError:
                pass
        return not await pods_of(cluster, "podinfo") and not cluster.runtime.pods.workers

    await eventually(all_gone, what="pods and processes to go with their Deployment")


async def test_a_crashed_container_is_restarted_and_counted(cluster: Cluster) -> None:
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_deployment(replicas=1))
    await cluster.kubectl("rollout", "status", "deployment/podinfo", "--timeout=60s")
    worker = next(iter(cluster.runtime.pods.workers.values()))
    pid = worker.containers[0].process.pid  # type: ignore[union-attr]
    os.kill(pid, 9)  # type: ignore[arg-type]

    async def restarted() -> bool:
        pod = (await pods_of(cluster, "podinfo"))[0]
        container = pod["status"]["containerStatuses"][0]  # type: ignore[index]
        return bool(container["restartCount"] == 1 and container["ready"])

    await eventually(restarted, what="the container to be restarted")
    pod = (await pods_of(cluster, "podinfo"))[0]
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]  # type: ignore[index]
    assert last["exitCode"] == 137 and last["reason"] == "Error"
