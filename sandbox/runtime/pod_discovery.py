"""Prometheus `kubernetes_sd_configs` (role `pod`) as a file_sd file, for a Prometheus without it.

Debian's Prometheus has no Kubernetes discovery, so the runtime translates a Prometheus pod's config
(`promconfig`) to read this file instead. Each target carries the `__meta_kubernetes_*` labels Kubernetes
discovery would give it, so the config's own relabelling (keep annotated pods, `labelmap` pod labels,
`kubernetes_namespace`, `kubernetes_pod_name`) runs unchanged. As in Prometheus' pod role: one target per
declared container port (`podIP:port`), one port-less target for a container without ports, and no
target for a pod without an IP yet.
"""

from __future__ import annotations

from sandbox.runtime.kube import Obj
from sandbox.runtime.scrape_targets import ScrapeTargets, sanitize_label

META = "__meta_kubernetes_"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _named(prefix: str, values: dict[str, str]) -> dict[str, str]:
    """`<prefix>_<name>` = value and `<prefix>present_<name>` = true, names sanitised as Prometheus does."""
    labels: dict[str, str] = {}
    for name, value in values.items():
        labels[f"{prefix}_{sanitize_label(name)}"] = str(value)
        labels[f"{prefix}present_{sanitize_label(name)}"] = "true"
    return labels


def pod_labels(pod: Obj) -> dict[str, str]:
    """The pod-level meta labels shared by every target of the pod."""
    meta = pod["metadata"]
    status = pod.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    labels = {
        f"{META}namespace": str(meta.get("namespace", "")),
        f"{META}pod_name": str(meta["name"]),
        f"{META}pod_ip": str(status.get("podIP", "")),
        f"{META}pod_ready": _bool(conditions.get("Ready") == "True"),
        f"{META}pod_phase": str(status.get("phase", "")),
        f"{META}pod_node_name": str((pod.get("spec") or {}).get("nodeName", "")),
        f"{META}pod_host_ip": str(status.get("hostIP", "")),
        f"{META}pod_uid": str(meta.get("uid", "")),
    }
    labels |= _named(f"{META}pod_label", meta.get("labels") or {})
    labels |= _named(f"{META}pod_annotation", meta.get("annotations") or {})
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller"):
            labels[f"{META}pod_controller_kind"] = str(owner.get("kind", ""))
            labels[f"{META}pod_controller_name"] = str(owner.get("name", ""))
    return labels


def pod_groups(pod: Obj) -> list[Obj]:
    """The file_sd target groups Kubernetes pod discovery would produce for `pod`."""
    pod_ip = (pod.get("status") or {}).get("podIP")
    if not pod_ip:
        return []
    shared = pod_labels(pod)
    spec = pod.get("spec") or {}
    groups: list[Obj] = []
    for init, containers in ((False, spec.get("containers")), (True, spec.get("initContainers"))):
        for container in containers or []:
            base = shared | {
                f"{META}pod_container_name": str(container.get("name", "")),
                f"{META}pod_container_image": str(container.get("image", "")),
                f"{META}pod_container_init": _bool(init),
            }
            ports = [p for p in container.get("ports") or [] if p.get("containerPort")]
            if not ports:
                groups.append({"targets": [str(pod_ip)], "labels": base})
            for port in ports:
                number = str(port["containerPort"])
                labels = base | {
                    f"{META}pod_container_port_name": str(port.get("name", "")),
                    f"{META}pod_container_port_number": number,
                    f"{META}pod_container_port_protocol": str(port.get("protocol", "TCP")),
                }
                groups.append({"targets": [f"{pod_ip}:{number}"], "labels": labels})
    return groups


class PodDiscoveryTargets(ScrapeTargets):
    """Keeps the discovery file current with every pod (the writer and its change check are reused)."""

    def targets(self) -> list[Obj]:
        groups: list[Obj] = []
        for _, pod in sorted(self.pods.cache.items()):
            groups += pod_groups(pod)
        return groups
