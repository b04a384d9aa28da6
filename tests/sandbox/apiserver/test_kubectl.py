"""Real kubectl (1.31 and 1.33, against a server reporting the same minor) against the API server."""

from __future__ import annotations

import json
import pathlib
import time

import yaml

from tests.data.tutorial import CANARY_YAML

from .conftest import PODINFO_DEPLOYMENT, Kubectl, flagger_crds_path, http

MERGE = "application/merge-patch+json"


def deployment_status(kubectl: Kubectl, replicas: int = 1, generation: int = 1) -> None:
    status = {
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        }
    }
    code, _ = http(
        kubectl.server, "PATCH", "/apis/apps/v1/namespaces/test/deployments/podinfo/status", status, MERGE
    )
    assert code == 200


def test_namespaces_deployments_and_edits(kubectl: Kubectl) -> None:
    assert "kube-system" in kubectl("get", "ns")
    assert "namespace/test created" in kubectl("create", "ns", "test")
    assert "deployment.apps/podinfo created" in kubectl("apply", "-f", "-", stdin=PODINFO_DEPLOYMENT)
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=PODINFO_DEPLOYMENT)
    table = kubectl("get", "deploy", "-n", "test")
    assert table.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "0/1" in table

    kubectl("-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:3.1.1")
    obj = json.loads(kubectl("-n", "test", "get", "deploy", "podinfo", "-o", "json"))
    images = {c["name"]: c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}
    assert images == {"podinfod": "stefanprodan/podinfo:3.1.1", "sidecar": "busybox:1.36"}
    assert obj["metadata"]["generation"] == 2

    as_yaml = yaml.safe_load(kubectl("-n", "test", "get", "deploy", "podinfo", "-o", "yaml"))
    assert as_yaml["kind"] == "Deployment" and as_yaml["metadata"]["name"] == "podinfo"

    kubectl("-n", "test", "patch", "deploy", "podinfo", "--type", "merge", "-p", '{"spec":{"paused":true}}')
    kubectl(
        "-n",
        "test",
        "patch",
        "deploy",
        "podinfo",
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/spec/minReadySeconds","value":3}]',
    )
    kubectl("-n", "test", "label", "deploy", "podinfo", "tier=web")
    kubectl("-n", "test", "annotate", "deploy", "podinfo", "note=hello")
    kubectl("-n", "test", "scale", "deploy", "podinfo", "--replicas=3")
    obj = json.loads(kubectl("-n", "test", "get", "deploy", "podinfo", "-o", "json"))
    assert obj["spec"]["paused"] is True and obj["spec"]["minReadySeconds"] == 3
    assert obj["metadata"]["labels"]["tier"] == "web"
    assert obj["metadata"]["annotations"]["note"] == "hello"
    assert obj["spec"]["replicas"] == 3
    failed = kubectl.run(
        "-n",
        "test",
        "patch",
        "deploy",
        "podinfo",
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":1}]',
    )
    assert failed.returncode != 0

    assert 'deployment.apps "podinfo" deleted' in kubectl("-n", "test", "delete", "deploy", "podinfo")
    assert "NotFound" in kubectl.run("-n", "test", "get", "deploy", "podinfo").stderr

    kubectl("-n", "test", "create", "configmap", "content", "--from-literal=a=b")
    assert 'namespace "test" deleted' in kubectl("delete", "ns", "test")  # waits until the namespace is gone
    assert "NotFound" in kubectl.run("get", "ns", "test").stderr


def test_flagger_crds_canary_columns_and_describe(kubectl: Kubectl) -> None:
    applied = kubectl("apply", "-f", str(flagger_crds_path()))
    assert "canaries.flagger.app created" in applied
    kubectl("create", "ns", "test")
    assert "canary.flagger.app/podinfo created" in kubectl("apply", "-f", "-", stdin=CANARY_YAML)

    code, _ = http(
        kubectl.server,
        "PATCH",
        "/apis/flagger.app/v1beta1/namespaces/test/canaries/podinfo/status",
        {
            "status": {
                "phase": "Progressing",
                "canaryWeight": 100,
                "lastTransitionTime": "2019-06-16T14:05:07Z",
            }
        },
        MERGE,
    )
    assert code == 200
    lines = kubectl("get", "canaries", "-A").splitlines()
    # No AGE: kube-apiserver adds it only to CRDs without printer columns (the tutorial's output has none).
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    assert lines[1].split()[:5] == ["test", "podinfo", "Progressing", "100", "2019-06-16T14:05:07Z"]

    canary = json.loads(kubectl("-n", "test", "get", "canary", "podinfo", "-o", "json"))
    involved = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": "test",
        "uid": canary["metadata"]["uid"],
    }
    code, _ = http(
        kubectl.server,
        "POST",
        "/api/v1/namespaces/test/events",
        {
            "metadata": {"name": "podinfo.1889e5a2c0f0a001"},
            "involvedObject": involved,
            "type": "Normal",
            "reason": "Synced",
            "message": "New revision detected podinfo.test",
            "source": {"component": "flagger"},
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
            "count": 1,
        },
    )
    assert code == 201
    code, _ = http(
        kubectl.server,
        "POST",
        "/apis/events.k8s.io/v1/namespaces/test/events",
        {
            "metadata": {"name": "podinfo.1889e5a2c0f0a002"},
            "regarding": involved,
            "type": "Normal",
            "reason": "Synced",
            "note": "Advance podinfo.test canary iteration 1/10",
            "eventTime": "2026-01-01T00:00:01.000000Z",
            "reportingController": "flagger",
            "reportingInstance": "flagger-1",
            "action": "Advance",
        },
    )
    assert code == 201
    described = kubectl("-n", "test", "describe", "canary/podinfo")
    assert "New revision detected podinfo.test" in described
    assert "Advance podinfo.test canary iteration 1/10" in described


def test_delete_with_and_without_finalizers(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "plain", "--from-literal=a=b")
    assert 'configmap "plain" deleted' in kubectl("delete", "configmap", "plain")
    kubectl(
        "apply",
        "-f",
        "-",
        stdin="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n",
    )
    kubectl("delete", "configmap", "held", "--wait=false")
    held = json.loads(kubectl("get", "configmap", "held", "-o", "json"))
    assert held["metadata"]["deletionTimestamp"]
    kubectl("patch", "configmap", "held", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    assert "NotFound" in kubectl.run("get", "configmap", "held").stderr


def test_server_side_apply_and_conflicts(kubectl: Kubectl) -> None:
    kubectl("create", "ns", "test")
    kubectl("apply", "-f", "-", stdin=PODINFO_DEPLOYMENT)  # client-side first: kubectl migrates ownership
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=PODINFO_DEPLOYMENT)
    managers = json.loads(
        kubectl("-n", "test", "get", "deploy", "podinfo", "-o", "json", "--show-managed-fields")
    )["metadata"]["managedFields"]
    assert {(m["manager"], m["operation"]) for m in managers} == {
        ("kubectl", "Apply"),
        ("kubectl-last-applied", "Apply"),
    }
    changed = PODINFO_DEPLOYMENT.replace("replicas: 1", "replicas: 5")
    conflict = kubectl.run("apply", "--server-side", "--field-manager", "other", "-f", "-", stdin=changed)
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower() and ".spec.replicas" in conflict.stderr
    kubectl(
        "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", stdin=changed
    )
    obj = json.loads(kubectl("-n", "test", "get", "deploy", "podinfo", "-o", "json"))
    assert obj["spec"]["replicas"] == 5


def test_apply_kustomization_directory(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    kubectl("create", "ns", "test")
    (tmp_path / "deployment.yaml").write_text(PODINFO_DEPLOYMENT)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: test\n"
        "resources: [deployment.yaml]\n"
        "configMapGenerator:\n- name: podinfo-config\n  literals: [color=blue]\n"
    )
    out = kubectl("apply", "-k", str(tmp_path))
    assert "deployment.apps/podinfo created" in out
    assert "configmap/podinfo-config-" in out  # generated names carry a hash suffix
    names = kubectl("-n", "test", "get", "configmaps", "-o", "name")
    assert "configmap/podinfo-config-" in names


def test_wait_and_rollout_status(kubectl: Kubectl) -> None:
    kubectl("create", "ns", "test")
    kubectl("apply", "-f", "-", stdin=PODINFO_DEPLOYMENT)
    rollout = kubectl.popen("-n", "test", "rollout", "status", "deploy/podinfo", "--timeout=20s")
    waiter = kubectl.popen(
        "-n", "test", "wait", "--for=condition=Available", "deploy/podinfo", "--timeout=20s"
    )
    time.sleep(0.5)
    assert rollout.poll() is None, "rollout status finished before the deployment was ready"
    deployment_status(kubectl)
    out, err = rollout.communicate(timeout=25)
    assert rollout.returncode == 0, err
    assert "successfully rolled out" in out
    out, err = waiter.communicate(timeout=25)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_get_watch_receives_updates(kubectl: Kubectl) -> None:
    watcher = kubectl.popen("get", "configmaps", "-w", "--request-timeout=8s")
    try:
        time.sleep(0.5)
        kubectl("create", "configmap", "watched-one", "--from-literal=a=b")
        kubectl("create", "configmap", "watched-two", "--from-literal=a=b")
        time.sleep(0.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    assert "watched-one" in out and "watched-two" in out


def test_wide_columns_auth_and_pod_commands(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "get", "pods").strip() == "yes"  # no authorization in the sandbox
    kubectl("run", "tmp", "--image=busybox", "--restart=Never")
    header = kubectl("get", "pods", "-o", "wide").splitlines()[0].split()
    assert header == [
        *("NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"),
        *("NOMINATED", "NODE", "READINESS", "GATES"),
    ]
    assert kubectl("logs", "tmp") == ""  # without a runtime a pod has no output
    assert 'pod "tmp" deleted' in kubectl("delete", "pod", "tmp")
    kubectl("wait", "--for=delete", "pod/tmp", "--timeout=5s")


def test_unknown_custom_resource_fields(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(flagger_crds_path()))
    kubectl("create", "ns", "test")
    typo = CANARY_YAML.replace("\n    interval: 30s\n", "\n    intervall: 30s\n")
    strict = kubectl.run("apply", "-f", "-", stdin=typo)
    assert strict.returncode != 0
    assert 'strict decoding error: unknown field "spec.analysis.intervall"' in strict.stderr
    warned = kubectl.run("apply", "--validate=warn", "-f", "-", stdin=typo)
    assert warned.returncode == 0
    assert 'Warning: unknown field "spec.analysis.intervall"' in warned.stderr
    stored = json.loads(kubectl("-n", "test", "get", "canary", "podinfo", "-o", "json"))
    assert "intervall" not in stored["spec"]["analysis"]  # pruned, as a real cluster does
    wrong_type = CANARY_YAML.replace("threshold: 2", 'threshold: "two"')
    invalid = kubectl.run("apply", "-f", "-", stdin=wrong_type)
    assert invalid.returncode != 0
    # kubectl rewords the 422 exactly as it does for a real cluster
    assert 'The Canary "podinfo" is invalid: spec.analysis.threshold: Invalid value' in invalid.stderr
