"""The node agent on a real control plane: pods run, get addresses EndpointSlices accept, serve through
ClusterIPs and cluster DNS, use in-cluster config, and answer `kubectl logs` and `kubectl exec`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time

from sandbox.node.credentials import InClusterCredentials
from sandbox.runtime.kube import PODS, Kube
from tests.sandbox.node.conftest import Node, eventually, podinfo_deployment, service, tool_pod
from tests.sandbox.runtime.test_exec import interactive_session


def ready_pods(node: Node, label: str, count: int) -> list[dict[str, object]] | None:
    pods = [p for p in node.pods(label) if not p["metadata"].get("deletionTimestamp")]
    ready = [
        p
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]
    return ready if len(ready) == count == len(pods) else None


def test_the_node_is_registered_ready_with_a_lease(node: Node) -> None:
    name = node.cluster.node_name
    described = node.get("node", name)
    ready = [c for c in described["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert described["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
    assert described["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")
    lease = json.loads(node.kubectl("-n", "kube-node-lease", "get", "lease", name, "-o", "json"))
    assert lease["spec"]["holderIdentity"] == name
    assert "Ready" in node.kubectl("get", "nodes", "-o", "wide")


def test_deployment_pods_serve_through_their_service_and_endpointslices(node: Node) -> None:
    node.apply(podinfo_deployment(replicas=2))
    node.apply(service("podinfo"))
    node.kubectl("rollout", "status", "deployment/podinfo", "--timeout=90s")
    pods = eventually(lambda: ready_pods(node, "app=podinfo", 2), what="two ready podinfo pods")
    ips = sorted(str(p["status"]["podIP"]) for p in pods)  # type: ignore[index]
    assert all(ip.startswith("10.244.") for ip in ips)
    wide = node.kubectl("get", "pods", "-o", "wide")
    assert node.cluster.node_name in wide and ips[0] in wide

    def slice_addresses() -> list[str] | None:
        slices = json.loads(node.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=podinfo",
                                         "-o", "json"))["items"]  # fmt: skip
        found = sorted(a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"])
        return found if found == ips else None

    eventually(slice_addresses, what="the EndpointSlice to list both pods")
    assert "podinfo" in node.kubectl("get", "endpointslices")

    node.apply(tool_pod("client", "sleep 3600"))
    eventually(lambda: ready_pods(node, "app=client", 1), what="the client pod")
    by_name = node.kubectl("exec", "client", "--", "curl", "-s", "-m", "5", "http://podinfo:9898/version")
    assert '"version"' in by_name and "6.0.0" in by_name
    fqdn = f"http://podinfo.{node.namespace}.svc.cluster.local:9898/version"
    assert "6.0.0" in node.kubectl("exec", "client", "--", "curl", "-s", "-m", "5", fqdn)


def test_logs_follow_and_interactive_exec(node: Node) -> None:
    node.apply(tool_pod("talker", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"))
    eventually(lambda: ready_pods(node, "app=talker", 1), what="the talker pod")
    eventually(lambda: "line 2" in node.kubectl("logs", "talker"), what="log lines")
    assert node.kubectl("logs", "talker", "--tail=1").count("line") == 1

    follow = subprocess.Popen(
        ["kubectl", f"--kubeconfig={node.cluster.kubeconfig}", "-n", node.namespace, "logs", "-f", "talker"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        first = follow.stdout.readline()
        time.sleep(1)
        seen = [follow.stdout.readline() for _ in range(3)]
        assert first.startswith("line") and all(s.startswith("line") for s in seen)
    finally:
        follow.kill()
        follow.wait()

    echoed = node.kubectl("exec", "-i", "talker", "--", "sh", "-c", "cat; echo done", stdin="hello\n")
    assert echoed == "hello\ndone\n"
    failed = subprocess.run(
        ["kubectl", f"--kubeconfig={node.cluster.kubeconfig}", "-n", node.namespace,
         "exec", "talker", "--", "sh", "-c", "exit 3"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert failed.returncode == 3
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    argv = [kubectl, f"--kubeconfig={node.cluster.kubeconfig}", "-n", node.namespace]
    argv += ["exec", "-it", "talker", "--", "sh"]
    screen, code = interactive_session(argv, dict(os.environ), b"echo $((6*7))\nstty size\nexit\n")
    assert "42" in screen.replace("$((6*7))", ""), screen
    assert "30 100" in screen, "the terminal size reaches the command"
    assert code == 0, screen


def test_pods_use_in_cluster_config_against_the_real_api_server(node: Node) -> None:
    script = "kubectl auth whoami -o jsonpath='{.status.userInfo.username}'; echo; sleep 3600"
    node.apply(tool_pod("whoami", script))
    expected = f"system:serviceaccount:{node.namespace}:default"
    eventually(lambda: expected in node.kubectl("logs", "whoami"), what="the pod to authenticate as its SA")
    env = node.kubectl(
        "exec", "whoami", "--", "sh", "-c", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
    )
    assert env.strip() == "10.96.0.1:443"
    files = node.kubectl("exec", "whoami", "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount")
    assert files.split() == ["ca.crt", "namespace", "token"]


def test_the_kubelet_api_answers_only_the_api_servers_client_certificate(node: Node) -> None:
    settings = node.cluster.agent_settings
    plane = node.cluster.plane
    assert settings is not None and plane.kubelet_client is not None
    url = f"https://127.0.0.1:{settings.kubelet_port}/healthz"
    verified = ["curl", "-s", "-m", "5", "--cacert", str(plane.ca_file), url]
    anonymous = subprocess.run(verified, capture_output=True, text=True, check=False)
    assert anonymous.returncode != 0 and anonymous.stdout != "ok"  # no client certificate: refused
    client = ["--cert", str(plane.kubelet_client.cert), "--key", str(plane.kubelet_client.key)]
    trusted = subprocess.run([*verified, *client], capture_output=True, text=True, check=False)
    assert trusted.stdout == "ok", trusted.stderr  # and the serving certificate verifies against the CA


def test_a_pods_token_is_renewed_in_place(node: Node) -> None:
    node.apply(tool_pod("renewed", "sleep 3600"))
    eventually(lambda: ready_pods(node, "app=renewed", 1), what="the pod")
    settings = node.cluster.agent_settings
    assert settings is not None
    token_file = settings.state_dir / "pods" / node.namespace / "renewed" / "serviceaccount" / "token"
    before = token_file.read_text()

    async def renew() -> bool:
        kube = await Kube.from_kubeconfig(str(settings.kubeconfig))  # as the node renews it
        try:
            pod = await kube.get(PODS, node.namespace, "renewed")
            credentials = InClusterCredentials(kube, settings.ca_file, settings.kubernetes_service_ip)
            return await credentials.refresh(pod, token_file.parent.parent)
        finally:
            await kube.close()

    assert asyncio.run(renew())
    assert token_file.read_text() != before
    username = "jsonpath={.status.userInfo.username}"
    whoami = node.kubectl("exec", "renewed", "--", "kubectl", "auth", "whoami", "-o", username)
    assert whoami == f"system:serviceaccount:{node.namespace}:default"  # with the new token
