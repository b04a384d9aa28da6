"""Differences to kube-apiserver 1.34 that the conformance replay (``make conformance``) found, now fixed.

Each test states what the real server answers; bench/README.md (Conformance) lists what is still different.
"""

from __future__ import annotations

import json
import pathlib
import urllib.error
import urllib.request
from typing import Any

import pytest

from sandbox.apiserver.testing import ApiServer

from .conftest import http

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def crd(formats: dict[str, str], columns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {k: {"type": "string", "format": v} for k, v in formats.items()},
                    }
                },
            }
        },
    }
    if columns is not None:
        version["additionalPrinterColumns"] = columns
    return {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def send(
    server: ApiServer, method: str, path: str, body: Any, content_type: str
) -> tuple[int, Any, list[str]]:
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read()), response.headers.get_all("Warning") or []


def test_crd_unknown_formats_warn_on_create_and_when_an_update_adds_them(apiserver: ApiServer) -> None:
    """kustomize/base/flagman/crd.yaml's `format: url` draws this warning from a real server."""
    status, created, warnings = send(
        apiserver,
        "POST",
        CRDS,
        crd({"a": "url", "b": "int32", "c": "date-time", "d": "uri"}),
        "application/json",
    )
    assert status == 201
    assert sorted(warnings) == [
        '299 - "unrecognized format \\"int32\\""',
        '299 - "unrecognized format \\"url\\""',
    ]
    assert created["spec"]["conversion"] == {"strategy": "None"}  # defaults a real server fills in
    assert created["spec"]["names"]["listKind"] == "WidgetList"
    assert created["spec"]["names"]["singular"] == "widget"
    patch = {"metadata": {"labels": {"a": "b"}}}
    assert (
        send(apiserver, "PATCH", f"{CRDS}/widgets.example.com", patch, "application/merge-patch+json")[2]
        == []
    )
    spec = {"spec": {"versions": crd({"a": "url", "e": "double"})["spec"]["versions"]}}
    _, _, warnings = send(
        apiserver, "PATCH", f"{CRDS}/widgets.example.com", spec, "application/merge-patch+json"
    )
    assert warnings == ['299 - "unrecognized format \\"double\\""']


def table_columns(server: ApiServer, path: str) -> list[str]:
    request = urllib.request.Request(server.url + path, headers={"Accept": TABLE_ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as response:
        return [c["name"] for c in json.loads(response.read())["columnDefinitions"]]


def test_custom_resource_tables_have_age_only_without_printer_columns(apiserver: ApiServer) -> None:
    column = {"name": "Size", "type": "string", "jsonPath": ".spec.size"}
    assert http(apiserver, "POST", CRDS, crd({}, [column]))[0] == 201
    assert table_columns(apiserver, "/apis/example.com/v1/namespaces/default/widgets") == ["Name", "Size"]
    http(apiserver, "DELETE", f"{CRDS}/widgets.example.com")
    assert http(apiserver, "POST", CRDS, crd({}))[0] == 201
    assert table_columns(apiserver, "/apis/example.com/v1/namespaces/default/widgets") == ["Name", "Age"]


def test_new_namespaces_get_their_service_account_and_root_ca_and_pods_need_their_account(
    apiserver: ApiServer,
) -> None:
    assert http(apiserver, "POST", "/api/v1/namespaces", {"metadata": {"name": "fresh"}})[0] == 201
    _, accounts = http(apiserver, "GET", "/api/v1/namespaces/fresh/serviceaccounts")
    assert [a["metadata"]["name"] for a in accounts["items"]] == ["default"]
    _, configmaps = http(apiserver, "GET", "/api/v1/namespaces/fresh/configmaps")
    assert [c["metadata"]["name"] for c in configmaps["items"]] == ["kube-root-ca.crt"]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    code, created = http(apiserver, "POST", "/api/v1/namespaces/fresh/pods", pod)
    assert code == 201
    spec = created["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"], spec["enableServiceLinks"]) == (
        "default",
        "default",
        True,
    )
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert [t["key"] for t in spec["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    pod = {"metadata": {"name": "q"}, "spec": {"serviceAccountName": "missing", **pod["spec"]}}
    code, refused = http(apiserver, "POST", "/api/v1/namespaces/fresh/pods", pod)
    assert (code, refused["reason"], refused["message"]) == (
        403,
        "Forbidden",
        'pods "q" is forbidden: error looking up service account fresh/missing: '
        'serviceaccount "missing" not found',
    )


def test_defaults_and_generation_as_the_real_strategies(apiserver: ApiServer) -> None:
    code, service = http(
        apiserver,
        "POST",
        "/api/v1/namespaces/default/services",
        {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
    )
    assert code == 201 and service["spec"]["internalTrafficPolicy"] == "Cluster"
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    code, created = http(apiserver, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)
    assert code == 201 and created["spec"]["strategy"]["rollingUpdate"] == {
        "maxUnavailable": 0,
        "maxSurge": "25%",
    }
    code, annotated = http(
        apiserver,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d",
        {"metadata": {"annotations": {"note": "x"}}},
        "application/merge-patch+json",
    )
    assert annotated["metadata"]["generation"] == 2  # a Deployment's annotations count, as in its strategy
    hpa = {
        "metadata": {"name": "d"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "maxReplicas": 2,
        },
    }
    code, created = http(
        apiserver, "POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", hpa
    )
    assert code == 201 and "generation" not in created["metadata"]


def test_discovery_lists_no_deletecollection_for_namespaces(apiserver: ApiServer) -> None:
    _, core = http(apiserver, "GET", "/api/v1")
    namespaces = next(r for r in core["resources"] if r["name"] == "namespaces")
    assert "deletecollection" not in namespaces["verbs"]
    assert "deletecollection" in next(r for r in core["resources"] if r["name"] == "configmaps")["verbs"]


def test_graceful_deletion_bumps_generation(apiserver: ApiServer) -> None:
    deployment = {
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        "spec": {
            "selector": {"matchLabels": {"app": "h"}},
            "template": {
                "metadata": {"labels": {"app": "h"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    assert http(apiserver, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)[0] == 201
    code, deleting = http(apiserver, "DELETE", "/apis/apps/v1/namespaces/default/deployments/held")
    assert code == 200 and deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["generation"] == 2


def test_events_written_through_either_api_read_as_a_real_server_shows_them(apiserver: ApiServer) -> None:
    new = {
        "metadata": {"name": "podinfo.1"},
        "regarding": {"kind": "Canary", "name": "podinfo", "namespace": "default"},
        "reason": "Synced",
        "note": "n",
        "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "flagman",
        "reportingInstance": "flagman-1",
        "action": "Sync",
    }
    code, created = http(apiserver, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", new)
    assert code == 201 and created["deprecatedSource"] == {} and "deprecatedCount" not in created
    _, core = http(apiserver, "GET", "/api/v1/namespaces/default/events/podinfo.1")
    assert (core["source"], core["reportingComponent"]) == ({}, "flagman")
    legacy = {
        "metadata": {"name": "podinfo.2"},
        "involvedObject": {"kind": "Canary"},
        "reason": "R",
        "message": "m",
    }
    code, created = http(apiserver, "POST", "/api/v1/namespaces/default/events", legacy)
    assert code == 201
    assert (created["source"], created["reportingComponent"], created["reportingInstance"]) == ({}, "", "")


def test_loopback_endpoint_addresses_are_refused_when_configured_as_a_real_server(
    tmp_path: pathlib.Path,
) -> None:
    """Off by default: the sandbox runtime gives its process pods 127.x addresses on purpose."""
    slice_ = {
        "metadata": {"name": "s"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["127.0.0.5"]}],
        "ports": [{"port": 80}],
    }
    endpoints = {
        "metadata": {"name": "e"},
        "subsets": [{"addresses": [{"ip": "127.0.0.5"}], "ports": [{"port": 80}]}],
    }
    with ApiServer(workdir=tmp_path / "strict", allow_loopback_endpoints=False) as strict:
        code, body = http(
            strict, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice_
        )
        assert (code, body["message"]) == (
            422,
            'EndpointSlice.discovery.k8s.io "s" is invalid: endpoints[1].addresses[0]: '
            'Invalid value: "127.0.0.5": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        )
        code, body = http(strict, "POST", "/api/v1/namespaces/default/endpoints", endpoints)
        assert code == 422 and body["details"]["causes"][0]["field"] == "subsets[0].addresses[0].ip"
    with ApiServer(workdir=tmp_path / "sandbox") as sandbox:
        assert (
            http(sandbox, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice_)[0]
            == 201
        )


def test_immutable_configmaps_and_cluster_ips_answer_as_the_real_server(apiserver: ApiServer) -> None:
    merge = "application/merge-patch+json"
    frozen = {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    assert http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", frozen)[0] == 201
    code, body = http(
        apiserver, "PATCH", "/api/v1/namespaces/default/configmaps/frozen", {"data": {"a": "2"}}, merge
    )
    assert (code, body["message"]) == (
        422,
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    )
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    service = {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}}
    assert http(apiserver, "POST", "/api/v1/namespaces/default/services", service)[0] == 201
    code, body = http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/services/s",
        {"spec": {"clusterIP": "10.96.0.11"}},
        merge,
    )
    assert (code, body["message"]) == (
        422,
        'Service "s" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set',
    )
    code, body = http(
        apiserver,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "metadata": {"name": "mismatch"},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {
                    "metadata": {"labels": {"app": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


GADGET = {"apiVersion": "ratchet.example.com/v1", "kind": "Gadget"}  # a real server needs both
GIZMO = {"apiVersion": "ratchet.example.com/v1", "kind": "Gizmo"}


def gadgets_crd(size_maximum: int, plural: str = "gadgets") -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {
            "size": {"type": "integer", "maximum": size_maximum},
            "mode": {"type": "string", "default": "auto"},
        },
    }
    status_schema = {"type": "object", "properties": {"count": {"type": "integer", "maximum": 5}}}
    return {
        "metadata": {"name": f"{plural}.ratchet.example.com"},
        "spec": {
            "group": "ratchet.example.com",
            "names": {"kind": plural.title().rstrip("s"), "plural": plural},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec_schema, "status": status_schema},
                        }
                    },
                }
            ],
        },
    }


def test_a_status_write_validates_the_status_not_the_unchanged_spec(apiserver: ApiServer) -> None:
    """kube-apiserver 1.34 validates a status write against the status schema only: a spec the CRD has
    since made invalid does not block it (checked on the real server with this same sequence)."""
    merge = "application/merge-patch+json"
    status, crd_now, _ = send(apiserver, "POST", CRDS, gadgets_crd(100), "application/json")
    assert status == 201
    gadgets = "/apis/ratchet.example.com/v1/namespaces/default/gadgets"
    gadget = {**GADGET, "metadata": {"name": "g"}, "spec": {"size": 50}}
    created = send(apiserver, "POST", gadgets, gadget, "application/json")
    assert created[1]["spec"] == {"size": 50, "mode": "auto"}
    crd_now["spec"] = gadgets_crd(10)["spec"]
    assert (
        send(apiserver, "PUT", f"{CRDS}/gadgets.ratchet.example.com", crd_now, "application/json")[0] == 200
    )

    status, patched, _ = send(apiserver, "PATCH", f"{gadgets}/g/status", {"status": {"count": 1}}, merge)
    assert status == 200
    assert patched["spec"] == {"size": 50, "mode": "auto"}
    assert patched["status"] == {"count": 1}
    replaced = {**patched, "status": {"count": 2}}
    status, put, _ = send(apiserver, "PUT", f"{gadgets}/g/status", replaced, "application/json")
    assert (status, put["status"], put["spec"]) == (200, {"count": 2}, {"size": 50, "mode": "auto"})

    with pytest.raises(urllib.error.HTTPError) as refused:
        send(apiserver, "PATCH", f"{gadgets}/g/status", {"status": {"count": 9}}, merge)
    assert refused.value.code == 422
    causes = json.loads(refused.value.read())["details"]["causes"]
    assert [cause["field"] for cause in causes] == ["status.count"]


def test_every_version_in_the_watch_history_keeps_what_was_written(apiserver: ApiServer) -> None:
    """Writes share unchanged parts with the stored version before them; no write may change an older
    version (a watch replaying history sends each as it was answered)."""
    assert send(apiserver, "POST", CRDS, gadgets_crd(100, "gizmos"), "application/json")[0] == 201
    merge = "application/merge-patch+json"
    gadgets = "/apis/ratchet.example.com/v1/namespaces/default/gizmos"
    gizmo = {**GIZMO, "metadata": {"name": "h"}, "spec": {"size": 1}}
    first = send(apiserver, "POST", gadgets, gizmo, "application/json")[1]
    answers = [first]
    for path, body in (
        (f"{gadgets}/h/status", {"status": {"count": 1}}),
        (f"{gadgets}/h", {"spec": {"size": 2}, "metadata": {"labels": {"a": "1"}}}),
        (f"{gadgets}/h/status", {"status": {"count": 2}}),
        (f"{gadgets}/h", {"metadata": {"labels": {"a": "2"}}}),
        (f"{gadgets}/h/status", {"status": None}),
    ):
        answers.append(send(apiserver, "PATCH", path, body, merge)[1])
    rv = first["metadata"]["resourceVersion"]
    query = f"watch=1&fieldSelector=metadata.name%3Dh&resourceVersion={rv}&timeoutSeconds=1"
    url = f"{apiserver.url}{gadgets}?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:
        replayed = [json.loads(line)["object"] for line in response.read().splitlines() if line]
    assert replayed == answers[1:]
    assert [a.get("status") for a in answers] == [
        None,
        {"count": 1},
        {"count": 1},
        {"count": 2},
        {"count": 2},
        None,
    ]
    assert [a["spec"]["size"] for a in answers] == [1, 1, 2, 2, 2, 2]
