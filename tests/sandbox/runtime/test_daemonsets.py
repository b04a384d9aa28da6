"""DaemonSets on the emulator: one pod on the node, gone under Flagger's scale-to-zero node selector."""

from __future__ import annotations

import json
from typing import Any

from sandbox.runtime.kube import DAEMONSETS, PODS
from sandbox.runtime.objects import pod_is_ready
from tests.sandbox.runtime.conftest import Cluster, eventually
from tests.sandbox.runtime.test_deployments import fetch_json


def podinfo_daemon_set(tag: str = "6.0.0") -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "podinfo"}},
                # the emulator does not default it (a real API server does)
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"app": "podinfo"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "podinfod",
                                "image": f"ghcr.io/stefanprodan/podinfo:{tag}",
                                "command": ["./podinfo", "--port=9898"],
                                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9898}},
                            }
                        ]
                    },
                },
            },
        }
    )


async def live_pods(cluster: Cluster) -> list[dict[str, Any]]:
    listing = await cluster.kube.list(PODS, "default")
    return [
        p
        for p in listing["items"]
        if p["metadata"].get("labels", {}).get("app") == "podinfo"
        and not p["metadata"].get("deletionTimestamp")
    ]


async def test_daemon_set_runs_one_pod_per_node_and_honours_its_node_selector(cluster: Cluster) -> None:
    nodes = await cluster.kubectl("get", "nodes", "--show-labels")
    assert "sandbox" in nodes and "kubernetes.io/os=linux" in nodes
    await cluster.kubectl("apply", "-f", "-", stdin=podinfo_daemon_set())

    async def one_ready_pod() -> dict[str, Any] | None:
        pods = await live_pods(cluster)
        return pods[0] if len(pods) == 1 and pod_is_ready(pods[0]) else None

    pod = await eventually(one_ready_pod, what="the DaemonSet's pod to be ready")
    assert pod["spec"]["nodeName"] == "sandbox"
    version = await fetch_json(f"http://{pod['status']['podIP']}:9898/version")
    assert version["version"] == "6.0.0"
    await cluster.kubectl("rollout", "status", "daemonset/podinfo", "--timeout=30s")
    status = (await cluster.kube.get(DAEMONSETS, "default", "podinfo"))["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"], status["updatedNumberScheduled"]) == (
        1,
        1,
        1,
    )

    # Flagger's scale to zero: a node selector no node matches removes the pod
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"flagger.app/scale-to-zero": "true"}}}}}
    await cluster.kubectl("patch", "daemonset/podinfo", "--type=merge", "-p", json.dumps(patch))

    async def no_pods() -> bool:
        status = (await cluster.kube.get(DAEMONSETS, "default", "podinfo")).get("status", {})
        return not await live_pods(cluster) and status.get("desiredNumberScheduled") == 0

    await eventually(no_pods, what="the pod to go away")

    # back (Flagger removes the selector), with a new version: the pod is replaced
    back = {"spec": {"template": {"spec": {"nodeSelector": None}}}}
    await cluster.kubectl("patch", "daemonset/podinfo", "--type=merge", "-p", json.dumps(back))
    await eventually(one_ready_pod, what="the pod to come back")
    await cluster.kubectl("set", "image", "daemonset/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1")

    async def new_version_ready() -> bool:
        pod = await one_ready_pod()
        return pod is not None and pod["spec"]["containers"][0]["image"].endswith(":6.0.1")

    await eventually(new_version_ready, what="the 6.0.1 pod to be ready")
    await cluster.kubectl("rollout", "status", "daemonset/podinfo", "--timeout=30s")
