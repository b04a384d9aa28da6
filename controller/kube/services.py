"""The three ClusterIP Services of the kubernetes router (spec 1.5): desired specs and reconciliation.

`{svc}-canary` selects the target pods, `{svc}-primary` and the apex `{svc}` select the primary pods.
Pure functions; `router.py` does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from controller.api.canary import ServiceSpec, UnmanagedMetadata
from controller.errors import KubeError
from controller.kube.objects import (
    CANARY_KIND,
    CANARY_SUFFIX,
    PRIMARY_SUFFIX,
    CanaryOwner,
    JsonDict,
    deep_copy,
    owner_reference,
)
from controller.rollout.ports import ServicePort

ServiceRole = Literal["apex", "primary", "canary"]

FLUX_OPT_OUT_ANNOTATIONS: dict[str, str] = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
SIDECAR_CONTAINERS = frozenset({"istio-proxy", "envoy"})


@dataclass(frozen=True)
class ServiceNames:
    apex: str
    primary: str
    canary: str

    def of(self, role: ServiceRole) -> str:
        return {"apex": self.apex, "primary": self.primary, "canary": self.canary}[role]


def service_names(service: ServiceSpec, target_name: str) -> ServiceNames:
    """`{svc}` is `spec.service.name` or the target name; Deployments keep `{target}` names regardless."""
    apex = service.name or target_name
    return ServiceNames(apex=apex, primary=f"{apex}{PRIMARY_SUFFIX}", canary=f"{apex}{CANARY_SUFFIX}")


def main_port(service: ServiceSpec) -> ServicePort:
    """`service.port` (named `portName` or `http`), to `targetPort` or else the same port."""
    target_port = service.target_port
    return ServicePort(
        name=service.port_name or "http",
        port=service.port,
        target_port=target_port if target_port not in (None, "", 0) else service.port,
        app_protocol=service.app_protocol,
    )


def port_json(port: ServicePort) -> JsonDict:
    """A Service port as the API writes it."""
    written: JsonDict = {
        "name": port.name,
        "protocol": port.protocol,
        "port": port.port,
        "targetPort": port.target_port,
    }
    if port.app_protocol:
        written["appProtocol"] = port.app_protocol
    return written


def discover_ports(target: Mapping[str, Any], service: ServiceSpec) -> tuple[ServicePort, ...]:
    """Extra service ports from the target's containers (`service.portDiscovery: true`).

    Flagger's rules (skip mesh sidecars, skip the main port, name `tcp-<container>-<index>` when unnamed,
    later names overwrite earlier ones), except that a port keeps its own protocol: Flagger exposes UDP
    ports as TCP. A discovered port named like the main port is skipped, as the Service would be invalid.
    """
    main = main_port(service)
    target_port = service.target_port
    ports: dict[str, ServicePort] = {}
    pod_spec = ((target.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod_spec.get("containers") or []:
        if container.get("name") in SIDECAR_CONTAINERS:
            continue
        for index, container_port in enumerate(container.get("ports") or []):
            number = container_port.get("containerPort")
            name = container_port.get("name")
            if target_port in (None, "", 0):
                if number == main.port:
                    continue
            elif isinstance(target_port, int):
                if number == target_port:
                    continue
            elif name == target_port:
                continue
            port_name = name or f"tcp-{container.get('name', '')}-{index}"
            if port_name == main.name:
                continue
            ports[port_name] = ServicePort(
                name=port_name,
                port=int(number),
                target_port=int(number),
                protocol=container_port.get("protocol") or "TCP",
            )
    return tuple(ports[name] for name in sorted(ports))


def desired_service(
    role: ServiceRole,
    names: ServiceNames,
    service: ServiceSpec,
    selector: Mapping[str, str],
    label_key: str,
    canary: CanaryOwner,
    extra_ports: Sequence[ServicePort] = (),
) -> JsonDict:
    """The Service Flagger would create for `role`."""
    name = names.of(role)
    role_metadata = {"apex": service.apex, "primary": service.primary, "canary": service.canary}[role]
    labels = {**(role_metadata.labels if role_metadata else {}), label_key: name}
    annotations = {**(role_metadata.annotations if role_metadata else {}), **FLUX_OPT_OUT_ANNOTATIONS}
    spec: JsonDict = {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [port_json(main_port(service)), *(port_json(port) for port in extra_ports)],
    }
    if service.headless:
        spec["clusterIP"] = "None"
    if service.traffic_distribution:
        spec["trafficDistribution"] = service.traffic_distribution
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": canary.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(canary)],
        },
        "spec": spec,
    }


def _port_key(port: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        port.get("port"),
        port.get("name") or "",
        port.get("protocol") or "TCP",
        str(port.get("targetPort", port.get("port"))),
        port.get("appProtocol") or "",
        port.get("nodePort") or 0,
    )


def is_owned_by(live: Mapping[str, Any], canary_name: str) -> bool:
    for ref in (live.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == CANARY_KIND and ref.get("name") == canary_name:
            return True
    return False


def reconcile_service(
    live: Mapping[str, Any],
    desired: Mapping[str, Any],
    canary_name: str,
    unmanaged: UnmanagedMetadata | None = None,
) -> JsonDict | None:
    """The updated Service to write back, or None when the live one already matches.

    Ports (order-insensitive, node ports carried over by name) and selector are enforced on any Service,
    which is how a user's apex Service is taken over. Labels and annotations are enforced only on Services
    this Canary controls, keeping the live values of `service.unmanagedMetadata` keys. Type, clusterIP and
    trafficDistribution are never changed after creation.
    """
    updated: JsonDict = deep_copy(dict(live))
    spec = updated.setdefault("spec", {})
    live_ports = spec.get("ports") or []
    node_ports = {port.get("name"): port["nodePort"] for port in live_ports if port.get("nodePort")}
    desired_ports = []
    for port in (desired.get("spec") or {}).get("ports") or []:
        port = deep_copy(dict(port))
        if port.get("name") in node_ports:
            port["nodePort"] = node_ports[port["name"]]
        desired_ports.append(port)
    desired_selector = dict((desired.get("spec") or {}).get("selector") or {})
    changed = False
    if (
        sorted(map(_port_key, live_ports)) != sorted(map(_port_key, desired_ports))
        or dict(spec.get("selector") or {}) != desired_selector
    ):
        spec["ports"] = desired_ports
        spec["selector"] = desired_selector
        changed = True

    meta = updated.setdefault("metadata", {})
    desired_meta = desired.get("metadata") or {}
    if is_owned_by(live, canary_name):
        for field, keep_keys in (
            ("labels", unmanaged.labels if unmanaged else ()),
            ("annotations", unmanaged.annotations if unmanaged else ()),
        ):
            live_values: dict[str, str] = dict(meta.get(field) or {})
            wanted = dict(desired_meta.get(field) or {})
            for key in keep_keys:
                if key in live_values:
                    wanted[key] = live_values[key]
                else:
                    wanted.pop(key, None)
            if live_values != wanted:
                meta[field] = wanted
                changed = True
    if changed:
        meta["annotations"] = {**(meta.get("annotations") or {}), **FLUX_OPT_OUT_ANNOTATIONS}
        return updated
    return None


KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def last_applied_selector(live: Mapping[str, Any]) -> dict[str, str] | None:
    """The selector `kubectl apply` last applied to this Service, None without that annotation (a broken
    annotation is an error, as in Flagger)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(KUBECTL_LAST_APPLIED)
    if text is None:
        return None
    try:
        applied = json.loads(text)
    except ValueError:
        name = (live.get("metadata") or {}).get("name")
        raise KubeError(f"router {name} failed to unMarshal annotation {KUBECTL_LAST_APPLIED}") from None
    selector = ((applied.get("spec") if isinstance(applied, dict) else None) or {}).get("selector") or {}
    return {str(key): str(value) for key, value in selector.items()}
