"""What is compared, with names, times and identities taken out.

The two controllers run in different namespaces at different moments, so the namespace becomes `<ns>`, times
go, generated identities (uids, cluster IPs, `flagger-id`) and revision hashes become placeholders, and a
message or payload repeated on consecutive ticks counts once: how many ticks a wait lasts depends on when the
scenario acted, not on the controller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.compare.stand_ins import Delivery
from bench.compare.trace import Event, Status

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
TIME_KEYS = {"lastTransitionTime", "lastUpdateTime", "creationTimestamp", "lastHeartbeatTime"}
IDENTITY_META = {"uid", "resourceVersion", "generation", "managedFields", "selfLink", "creationTimestamp"}
SERVER_ANNOTATIONS = {"deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration"}


def text(value: Any, namespace: str) -> Any:
    """`value` with the namespace replaced by <ns> in every string, and UUIDs by <uuid>."""
    dumped = json.dumps(value, sort_keys=True).replace(namespace, "<ns>")
    return json.loads(UUID.sub("<uuid>", dumped))


def collapse(items: Iterable[Any]) -> list[Any]:
    """Consecutive repeats counted once."""
    out: list[Any] = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out


def status(snapshot: Status, namespace: str) -> dict[str, Any]:
    body = dict(snapshot.status)
    for key in ("lastAppliedSpec", "lastPromotedSpec"):
        if body.get(key):
            body[key] = "<hash>"  # Flagger: go-spew + FNV; Flagman: SHA-256 (docs/compatibility.md)
    if body.get("trackedConfigs"):
        body["trackedConfigs"] = {key: "<hash>" for key in body["trackedConfigs"]}
    body.pop("lastTransitionTime", None)
    body["conditions"] = [
        {k: v for k, v in condition.items() if k not in TIME_KEYS}
        for condition in body.get("conditions") or []
    ]
    if not body["conditions"]:
        del body["conditions"]
    return dict(text(body, namespace))


def statuses(history: list[Status], namespace: str) -> list[str]:
    return collapse(json.dumps(status(s, namespace), sort_keys=True) for s in history)


def events(history: list[Event], namespace: str) -> list[str]:
    return collapse(f"{e.type} {e.reason}: {text(e.message, namespace)}" for e in history)


def deliveries(history: list[Delivery], namespace: str) -> list[str]:
    def one(d: Delivery) -> str:
        payload = dict(d.payload)
        if "checksum" in payload:
            payload["checksum"] = "<checksum>"  # hashes a Go spew dump in Flagger (docs/compatibility.md)
        return f"{d.path} -> {d.status} " + json.dumps(text(payload, namespace), sort_keys=True)

    return collapse(one(d) for d in history)


def kube_object(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Kind, metadata that a controller chose (labels, annotations, owners) and spec (or data)."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    owners = [{k: v for k, v in owner.items() if k != "uid"} for owner in meta.get("ownerReferences") or []]
    body: dict[str, Any] = {
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "labels": meta.get("labels") or {},
        "annotations": annotations,
        "ownerReferences": owners,
        "finalizers": meta.get("finalizers") or [],
    }
    if "spec" in obj:
        spec = json.loads(json.dumps(obj["spec"]))
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
        if obj.get("kind") == "Service" and len(spec.get("ports") or []) > 2:
            # Flagger appends discovered ports in Go map order (random per create); Flagman in name order.
            spec["ports"] = spec["ports"][:1] + sorted(
                spec["ports"][1:], key=lambda port: str(port.get("name"))
            )
        body["spec"] = spec
    for key in ("data", "stringData", "type", "immutable"):
        if key in obj:
            body[key] = obj[key]
    return dict(text(body, namespace))


def metrics(exposition: str, namespace: str) -> dict[str, str]:
    """`flagger_*` samples of this namespace (or none): `name{labels}` -> value, or "present" for timings."""
    out: dict[str, str] = {}
    for family in text_string_to_metric_families(exposition):
        if not family.name.startswith("flagger_"):
            continue
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.get("namespace", namespace) != namespace:
                continue
            if sample.name == "flagger_info":
                labels["version"] = "<version>"
            if sample.name.endswith("_bucket"):
                labels.pop("le", None)
            key = sample.name + json.dumps(text(labels, namespace), sort_keys=True)
            timing = family.type in {"histogram", "summary"} or sample.name.endswith("_seconds")
            out[key] = "present" if timing else f"{sample.value:g}"
    return out
