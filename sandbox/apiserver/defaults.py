"""The defaults kube-apiserver fills into built-in objects, limited to what clients here read back.

Flagger-style controllers copy a Deployment's spec and compare it later, and ``kubectl rollout
status`` reads ``spec.replicas``; so Deployments get their well-known defaults, Namespaces their
label, finalizer and phase, Services their type. Everything else is stored as sent.
"""

from __future__ import annotations

from typing import Any

from .registry import ResourceType


def namespace_defaults(obj: dict[str, Any], keep_status: dict[str, Any] | None = None) -> None:
    metadata = obj.setdefault("metadata", {})
    labels = metadata.get("labels") or {}
    labels["kubernetes.io/metadata.name"] = metadata.get("name", "")
    metadata["labels"] = labels
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if "finalizers" not in spec:
        spec["finalizers"] = ["kubernetes"]
    obj["spec"] = spec
    if keep_status is not None:
        obj["status"] = dict(keep_status)
    else:
        obj["status"] = {"phase": "Active"}


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            image = str(container.get("image", ""))
            tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
            container.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


# What the DefaultTolerationSeconds admission plugin adds to every Pod.
DEFAULT_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def _pod_admission_defaults(spec: dict[str, Any]) -> None:
    """Pod-only defaults: SetDefaults_Pod and the ServiceAccount, Priority and DefaultTolerationSeconds
    admission plugins. The ServiceAccount plugin's projected token volume is left out: nothing reads it."""
    spec.setdefault("enableServiceLinks", True)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.get("tolerations")
    if tolerations is None or isinstance(tolerations, list):
        tolerations = list(tolerations or [])
        for default in DEFAULT_TOLERATIONS:
            if not any(isinstance(t, dict) and t.get("key") == default["key"] for t in tolerations):
                tolerations.append(dict(default))
        spec["tolerations"] = tolerations


def _crd_defaults(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")


def _deployment_defaults(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec_defaults(template["spec"])


def _service_defaults(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def apply_builtin_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    if rt.custom:
        return
    if rt.kind == "Namespace" and rt.group == "":
        if "status" not in obj or not isinstance(obj.get("status"), dict) or "phase" not in obj["status"]:
            namespace_defaults(obj)
        else:
            namespace_defaults(obj, keep_status=obj["status"])
    elif rt.kind == "Deployment" and rt.group == "apps":
        _deployment_defaults(obj)
    elif rt.kind in ("ReplicaSet", "StatefulSet", "DaemonSet") and isinstance(obj.get("spec"), dict):
        if rt.kind in ("ReplicaSet", "StatefulSet"):
            obj["spec"].setdefault("replicas", 1)
        template = obj["spec"].get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            _pod_spec_defaults(template["spec"])
    elif rt.kind == "Pod" and isinstance(obj.get("spec"), dict):
        _pod_spec_defaults(obj["spec"])
        _pod_admission_defaults(obj["spec"])
        obj.setdefault("status", {"phase": "Pending"})
    elif rt.kind == "Service":
        _service_defaults(obj)
    elif rt.kind == "CustomResourceDefinition":
        _crd_defaults(obj)
    elif rt.kind == "Event":  # stored as core/v1, whose struct fields are not omitempty
        obj.setdefault("source", {})
        obj.setdefault("reportingComponent", "")
        obj.setdefault("reportingInstance", "")
