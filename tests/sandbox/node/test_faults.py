"""Faults on the real node: unknown images, crash loops, pods deleted while starting, the agent and the API
server restarting, DaemonSets scaled to zero."""

from __future__ import annotations

import json
import time
from typing import Any

from sandbox.node.cluster import network_prefix
from sandbox.node.netns import existing
from tests.sandbox.node.conftest import Node, eventually, podinfo_deployment, tool_pod
from tests.sandbox.node.test_agent import ready_pods


def waiting_reason(pod: dict[str, Any]) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return str((statuses[0].get("state") or {}).get("waiting", {}).get("reason", ""))


def pid_alive(pid: int) -> bool:
    """Running, not a zombie: a container orphaned by the killed agent is reparented, and its new parent
    reaps it when it gets round to it (the kill itself is what the test is about)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def container_pid(pod: dict[str, Any]) -> int:
    return int(pod["status"]["containerStatuses"][0]["containerID"].rsplit("//", 1)[1])


def test_an_unknown_image_is_reported_as_a_kubelet_does(node: Node) -> None:
    node.apply(tool_pod("nope", "true", image="registry.example/unknown:1"))
    eventually(lambda: waiting_reason(node.get("pod", "nope")) == "ImagePullBackOff", what="ImagePullBackOff")
    events = node.kubectl("get", "events", "--field-selector", "involvedObject.name=nope")
    assert "ErrImagePull" in events and "no container engine" in events
    assert node.get("pod", "nope")["status"]["phase"] == "Pending"


def test_a_crash_looping_container_backs_off_and_counts_restarts(node: Node) -> None:
    node.apply(tool_pod("crasher", "echo boom; exit 1"))

    def restarted_twice() -> bool:
        statuses = node.get("pod", "crasher").get("status", {}).get("containerStatuses") or [{}]
        return int(statuses[0].get("restartCount") or 0) >= 2  # no status yet while the pod starts

    eventually(restarted_twice, what="two restarts")
    eventually(lambda: waiting_reason(node.get("pod", "crasher")) == "CrashLoopBackOff", what="back-off")
    status = node.get("pod", "crasher")["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 1, status
    assert "boom" in node.kubectl("logs", "crasher")


def test_pods_deleted_while_starting_leave_nothing_behind(node: Node) -> None:
    prefix = network_prefix(node.cluster.state_dir)
    before = set(existing(prefix))
    pids_dir = node.cluster.node_dir / "pids"
    for delay in (0.0, 0.3, 0.8, 1.5):  # before the agent sees it, while it makes the namespace, starting
        name = f"short-{int(delay * 10)}"
        node.apply(tool_pod(name, "sleep 3600"))
        time.sleep(delay)
        node.kubectl("delete", "pod", name, "--wait=false")
    eventually(lambda: not node.pods("app in (short-0,short-3,short-8,short-15)"), what="the pods to go")
    eventually(lambda: set(existing(prefix)) <= before, what="their network namespaces to be gone")
    records = [r.name for r in pids_dir.glob("*")] if pids_dir.is_dir() else []
    live = set(running_uids(node))
    assert [r for r in records if r.split(".", 1)[0] not in live] == [], "processes of deleted pods"


def running_uids(node: Node) -> list[str]:
    """Uids of every pod bound to the node, in any namespace."""
    pods = json.loads(node.kubectl("get", "pods", "-A", "-o", "json"))["items"]
    return [p["metadata"]["uid"] for p in pods]


def test_a_restarted_agent_takes_its_pods_over_without_orphans(node: Node) -> None:
    node.apply(podinfo_deployment("steady"))
    pod = eventually(lambda: ready_pods(node, "app=steady", 1), what="a ready pod")[0]
    old_pid, address = container_pid(pod), pod["status"]["podIP"]
    node.cluster.kill_agent()
    assert pid_alive(old_pid)  # a kubelet's death does not stop the containers
    node.cluster.start_agent()

    def restarted() -> dict[str, Any] | None:
        pods = ready_pods(node, "app=steady", 1)
        return pods[0] if pods and container_pid(pods[0]) != old_pid else None

    again = eventually(restarted, what="the pod to run under the new agent")
    assert again["metadata"]["uid"] == pod["metadata"]["uid"]
    assert again["status"]["podIP"] == address
    assert again["status"]["containerStatuses"][0]["restartCount"] >= 1
    eventually(lambda: not pid_alive(old_pid), what="the old container process to be gone")


def test_the_agent_reconnects_after_an_api_server_restart(node: Node) -> None:
    apiserver = node.cluster.plane.components["kube-apiserver"]
    apiserver.stop()
    apiserver.start()
    eventually(lambda: "ok" in node.kubectl("get", "--raw", "/readyz", check=False), what="the API server")
    node.apply(podinfo_deployment("after-restart"))
    eventually(lambda: ready_pods(node, "app=after-restart", 1), within=90, what="a pod started afterwards")


def test_a_daemon_set_runs_one_pod_and_scales_to_zero_by_node_selector(node: Node) -> None:
    deployment = podinfo_deployment("daemon")
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "daemon"},
        "spec": {"selector": deployment["spec"]["selector"], "template": deployment["spec"]["template"]},
    }
    node.apply(daemon_set)
    pod = eventually(lambda: ready_pods(node, "app=daemon", 1), what="the DaemonSet's pod")[0]
    assert pod["spec"]["nodeName"] == node.cluster.node_name
    node.kubectl("rollout", "status", "daemonset/daemon", "--timeout=60s")
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"flagger.app/scale-to-zero": "true"}}}}}
    node.kubectl("patch", "daemonset/daemon", "--type=merge", "-p", json.dumps(patch))
    eventually(lambda: not node.pods("app=daemon"), what="the pod to go away")
    assert node.get("daemonset", "daemon")["status"]["desiredNumberScheduled"] == 0
