"""Prometheus file_sd targets for pods annotated `prometheus.io/scrape: "true"`.

The labels are what the `kubernetes-pods` job of Flagger's bundled Prometheus produces by relabelling:
every pod label (sanitised), `kubernetes_namespace`, `kubernetes_pod_name`, the `prometheus.io/path`
annotation as the metrics path and `prometheus.io/port` as the port. Flagger's builtin
request-success-rate and request-duration queries filter on exactly these two `kubernetes_*` labels.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sandbox.runtime.informer import Informer
from sandbox.runtime.kube import Obj

SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"
PATH_ANNOTATION = "prometheus.io/path"


def sanitize_label(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def pod_targets(pod: Obj) -> list[Obj]:
    meta = pod["metadata"]
    annotations = meta.get("annotations") or {}
    pod_ip = pod.get("status", {}).get("podIP")
    if annotations.get(SCRAPE_ANNOTATION) != "true" or not pod_ip or meta.get("deletionTimestamp"):
        return []
    if pod.get("status", {}).get("phase") != "Running":
        return []
    if annotations.get(PORT_ANNOTATION):
        ports = [str(annotations[PORT_ANNOTATION])]
    else:
        ports = [
            str(port["containerPort"])
            for container in pod.get("spec", {}).get("containers") or []
            for port in container.get("ports") or []
            if port.get("containerPort")
        ]
    if any("9901" in f"{pod_ip}:{port}" for port in ports):
        ports = [port for port in ports if "9901" not in f"{pod_ip}:{port}"]  # Flagger drops Envoy admin
    labels = {sanitize_label(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels["kubernetes_namespace"] = meta.get("namespace", "")
    labels["kubernetes_pod_name"] = meta["name"]
    if annotations.get(PATH_ANNOTATION):
        labels["__metrics_path__"] = str(annotations[PATH_ANNOTATION])
    return [{"targets": [f"{pod_ip}:{port}"], "labels": labels} for port in ports]


class ScrapeTargets:
    """Rewrites the file_sd file whenever a pod changes in a way that changes the target list."""

    def __init__(self, pods: Informer, path: Path) -> None:
        self.pods = pods
        self.path = path
        self._last: list[Obj] | None = None
        pods.subscribe(self._on_pod)
        self.write()

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        self.write()

    def targets(self) -> list[Obj]:
        groups: list[Obj] = []
        for _, pod in sorted(self.pods.cache.items()):
            groups += pod_targets(pod)
        return groups

    def write(self) -> None:
        groups = self.targets()
        if groups == self._last:
            return
        self._last = groups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(groups, indent=1))
        os.replace(scratch, self.path)
