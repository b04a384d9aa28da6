"""The Endpoints controller: each Service with a selector lists the IPs of its pods, ready or not."""

from __future__ import annotations

import logging
from typing import Any

from sandbox.runtime.informer import Informer, Key
from sandbox.runtime.kube import ENDPOINTS, Kube, KubeError, Obj
from sandbox.runtime.objects import is_terminating, labels_of, map_selector_matches, pod_is_ready
from sandbox.runtime.workqueue import WorkQueue

log = logging.getLogger(__name__)


def resolve_target_port(service_port: Obj, pod: Obj) -> int | None:
    """A numeric targetPort, or a named one looked up in the pod's container ports."""
    target: Any = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def endpoint_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """Subsets grouped by resolved port set, addresses sorted, as the real controller produces them."""
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in sorted(pods, key=lambda p: p.get("status", {}).get("podIP", "")):
        pod_ip = pod.get("status", {}).get("podIP")
        if not pod_ip:
            continue
        ports: list[tuple[str, int, str]] = []
        for service_port in service.get("spec", {}).get("ports") or []:
            resolved = resolve_target_port(service_port, pod)
            if resolved is not None:
                ports.append(
                    (str(service_port.get("name", "")), resolved, service_port.get("protocol", "TCP"))
                )
        if not ports:
            continue
        address = {
            "ip": pod_ip,
            "nodeName": "sandbox",
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"].get("namespace", ""),
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"].get("uid", ""),
            },
        }
        group = groups.setdefault(tuple(ports), {"addresses": [], "notReadyAddresses": []})
        group["addresses" if pod_is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for ports_key, addresses in groups.items():
        subset: Obj = {"ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports_key]}
        for field_name in ("addresses", "notReadyAddresses"):
            if addresses[field_name]:
                subset[field_name] = addresses[field_name]
        subsets.append(subset)
    return subsets


class EndpointsController:
    def __init__(self, kube: Kube, services: Informer, pods: Informer, endpoints: Informer) -> None:
        self.kube = kube
        self.services = services
        self.pods = pods
        self.endpoints = endpoints
        self.queue = WorkQueue("endpoints", self.reconcile)
        services.subscribe(self._on_service)
        pods.subscribe(self._on_pod)

    def _on_service(self, event_type: str, service: Obj) -> None:
        self.queue.add((service["metadata"].get("namespace", ""), service["metadata"]["name"]))

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        namespace = pod["metadata"].get("namespace", "")
        for service in self.services.in_namespace(namespace):
            if map_selector_matches(service.get("spec", {}).get("selector"), labels_of(pod)):
                self.queue.add((namespace, service["metadata"]["name"]))

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        service = self.services.get(namespace, name)
        current = self.endpoints.get(namespace, name)
        if service is None or is_terminating(service):
            if current is not None and current["metadata"].get("labels", {}).get(MANAGED_LABEL):
                await self.kube.delete(ENDPOINTS, namespace, name)
            return None
        selector = service.get("spec", {}).get("selector")
        if not selector:
            return None  # selector-less Services keep the Endpoints their owner writes
        pods = [
            pod
            for pod in self.pods.in_namespace(namespace)
            if map_selector_matches(selector, labels_of(pod))
            and not is_terminating(pod)
            and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        subsets = endpoint_subsets(service, pods)
        if current is not None and (current.get("subsets") or []) == subsets:
            return None
        labels = {**(service["metadata"].get("labels") or {}), MANAGED_LABEL: "true"}
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "subsets": subsets,
        }
        if current is None:
            try:
                await self.kube.create(ENDPOINTS, namespace, body)
                return None
            except KubeError as exc:
                if not exc.conflict:
                    raise
        await self.kube.patch(
            ENDPOINTS, namespace, name, {"metadata": {"labels": labels}, "subsets": subsets}
        )
        return None


#: Marks Endpoints this controller maintains (the real one uses `endpoints.kubernetes.io/managed-by`).
MANAGED_LABEL = "endpoints.kubernetes.io/managed-by"
