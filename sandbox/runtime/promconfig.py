"""A Prometheus pod's config, as the runtime hands it to the local /usr/bin/prometheus.

The pod's config comes from its ConfigMap volume (read from the API server, as a kubelet would mount it).
Debian's Prometheus 2.42 has no Kubernetes service discovery, so every `kubernetes_sd_configs` entry of
role `pod` becomes a `file_sd_configs` entry reading the runtime's pod discovery file (`pod_discovery`),
whose targets carry the same `__meta_kubernetes_*` labels: the job's relabelling then yields the same
series, `kubernetes_namespace` and `kubernetes_pod_name` included. `namespaces.names` and `own_namespace`
become a `keep` on `__meta_kubernetes_namespace`. Anything the file cannot stand in for (other roles,
label or field selectors, another API server) is a clear error rather than a silently different job.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from sandbox.runtime.images import (
    is_prometheus_image,
    parse_image,
    prometheus_config_path,
    prometheus_files,
)
from sandbox.runtime.kube import Kube, KubeError, Obj

#: How often Prometheus re-reads the discovery file besides its file watch (a missed inotify event).
DISCOVERY_REFRESH = "5s"
#: The parts of a pod-role `kubernetes_sd_configs` entry the discovery file can stand in for.
SUPPORTED_SD_FIELDS = frozenset({"role", "namespaces"})


class ContainerSetupError(Exception):
    """The container cannot start: its files are missing or unusable (a kubelet's FailedMount)."""


def _namespaces_of(entry: dict[str, Any], pod_namespace: str) -> list[str] | None:
    """The namespaces one sd entry discovers, or None for all of them."""
    selection = entry.get("namespaces") or {}
    names = [str(name) for name in selection.get("names") or []]
    if selection.get("own_namespace"):
        names.append(pod_namespace)
    return names or None


def _translate_job(job: dict[str, Any], discovery_file: Path, pod_namespace: str) -> None:
    job_name = job.get("job_name", "?")
    entries = job.pop("kubernetes_sd_configs")
    allowed: set[str] = set()
    everywhere = False
    for entry in entries or []:
        role = entry.get("role")
        if role != "pod":
            raise ContainerSetupError(
                f"prometheus job {job_name!r}: kubernetes_sd_configs role {role!r} is not available in "
                "the sandbox (its Prometheus has no Kubernetes discovery; only role: pod is translated)"
            )
        unsupported = sorted(set(entry) - SUPPORTED_SD_FIELDS)
        if unsupported:
            raise ContainerSetupError(
                f"prometheus job {job_name!r}: kubernetes_sd_configs field(s) {', '.join(unsupported)} "
                "cannot be translated to the sandbox's pod discovery file"
            )
        namespaces = _namespaces_of(entry, pod_namespace)
        if namespaces is None:
            everywhere = True
        else:
            allowed.update(namespaces)
    job.setdefault("file_sd_configs", []).append(
        {"files": [str(discovery_file)], "refresh_interval": DISCOVERY_REFRESH}
    )
    if not everywhere and allowed:
        keep = {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_namespace"],
            "regex": "|".join(re.escape(name) for name in sorted(allowed)),
        }
        job["relabel_configs"] = [keep, *(job.get("relabel_configs") or [])]


def translate(config_text: str, discovery_file: Path, pod_namespace: str) -> str:
    """The config with pod-role Kubernetes discovery replaced by the discovery file."""
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError as exc:
        raise ContainerSetupError(f"prometheus config is not valid YAML: {exc}") from exc
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ContainerSetupError("prometheus config must be a YAML mapping")
    jobs = config.get("scrape_configs") or []
    if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
        raise ContainerSetupError("prometheus config: scrape_configs must be a list of jobs")
    for job in jobs:
        if "kubernetes_sd_configs" in job:
            _translate_job(job, discovery_file, pod_namespace)
    return yaml.safe_dump(config, sort_keys=False)


# -- reading the file from the pod's volume --------------------------------------------------------


def _volume_for(pod: Obj, container: Obj, path: str) -> tuple[Obj, str]:
    """The pod volume mounted over `path` in `container`, and `path` relative to its mount."""
    target = PurePosixPath(path)
    best: tuple[Obj, str] | None = None
    best_depth = -1
    for mount in container.get("volumeMounts") or []:
        mount_path = PurePosixPath(str(mount.get("mountPath", "")))
        if mount.get("subPath"):
            if mount_path == target:
                return mount, str(mount["subPath"])
            continue
        if target.is_relative_to(mount_path) and len(mount_path.parts) > best_depth:
            best, best_depth = (mount, str(target.relative_to(mount_path))), len(mount_path.parts)
    if best is None:
        raise ContainerSetupError(f"no volume is mounted at {path} (where the container reads its config)")
    return best


async def read_mounted_file(kube: Kube, pod: Obj, container: Obj, path: str) -> str:
    """The contents of `path` in the container, from the ConfigMap or Secret volume mounted there."""
    mount, relative = _volume_for(pod, container, path)
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    volume = volumes.get(mount.get("name"))
    if volume is None:
        raise ContainerSetupError(f"volume {mount.get('name')!r} mounted at {path} is not defined in the pod")
    namespace = pod["metadata"].get("namespace", "default")
    if "configMap" in volume:
        source, kind, plural, name_field = volume["configMap"], "configmap", "configmaps", "name"
    elif "secret" in volume:
        source, kind, plural, name_field = volume["secret"], "secret", "secrets", "secretName"
    else:
        raise ContainerSetupError(
            f"volume {volume.get('name')!r} at {path} is neither a ConfigMap nor a Secret; "
            "the sandbox cannot provide its files"
        )
    name = str(source.get(name_field, ""))
    try:
        obj = await kube.request("GET", f"/api/v1/namespaces/{namespace}/{plural}/{name}")
    except KubeError as exc:
        raise ContainerSetupError(f'MountVolume.SetUp failed: {kind} "{name}" not found ({exc})') from exc
    key = relative
    for item in source.get("items") or []:
        if item.get("path") == relative:
            key = str(item.get("key"))
    if key in (obj.get("data") or {}):
        value = str(obj["data"][key])
        return base64.b64decode(value).decode() if kind == "secret" else value
    raise ContainerSetupError(f'{kind} "{namespace}/{name}" has no key {key!r} for {path}')


def write_config(pod_dir: Path, config: str) -> None:
    config_file, data_dir = prometheus_files(pod_dir)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config)


async def prepare(kube: Kube, pod: Obj, container: Obj, pod_dir: Path, discovery_file: Path) -> None:
    """Write the files a container's local program needs before it starts (only Prometheus needs any).

    The discovery file itself is kept by the runtime's `PodDiscoveryTargets`, written from its start.
    """
    if not is_prometheus_image(parse_image(str(container.get("image") or ""))):
        return
    text = await read_mounted_file(kube, pod, container, prometheus_config_path(container))
    namespace = str(pod["metadata"].get("namespace") or "default")
    write_config(pod_dir, translate(text, discovery_file, namespace))
