"""The API server's HTTP contract, checked request by request with a plain HTTP client."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from sandbox.apiserver.testing import ApiServer

from .conftest import flagger_crds, http

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


async def read_events(
    response: aiohttp.ClientResponse, count: int, within: float = 5
) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(within):
        while len(events) < count:
            line = await response.content.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


def test_discovery_and_openapi_follow_crds(apiserver: ApiServer) -> None:
    _, core = http(apiserver, "GET", "/api/v1")
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/log", "pods/status", "namespaces/finalize", "services", "events"} <= names
    _, apps = http(apiserver, "GET", "/apis/apps/v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    deployments = next(r for r in apps["resources"] if r["name"] == "deployments")
    assert {"watch", "list", "patch"} <= set(deployments["verbs"]) and deployments["shortNames"] == ["deploy"]
    _, groups = http(apiserver, "GET", "/apis")
    autoscaling = next(g for g in groups["groups"] if g["name"] == "autoscaling")
    assert autoscaling["preferredVersion"]["version"] == "v2"
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v2beta2"]

    _, root_before = http(apiserver, "GET", "/openapi/v3")
    assert "apis/flagger.app/v1beta1" not in root_before["paths"]
    for crd in flagger_crds():
        assert (
            http(apiserver, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)[0] == 201
        )
    _, root_after = http(apiserver, "GET", "/openapi/v3")
    url = root_after["paths"]["apis/flagger.app/v1beta1"]["serverRelativeURL"]
    assert root_after["paths"]["api/v1"] != root_before["paths"]["api/v1"]  # the hash changed
    _code, document = http(apiserver, "GET", url)
    operation = document["paths"]["/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}"]["patch"]
    assert operation["x-kubernetes-group-version-kind"]["kind"] == "Canary"
    assert any(p["name"] == "fieldValidation" for p in operation["parameters"])
    _, flagger = http(apiserver, "GET", "/apis/flagger.app/v1beta1")
    assert {"canaries", "canaries/status", "metrictemplates", "alertproviders"} <= {
        r["name"] for r in flagger["resources"]
    }
    assert http(apiserver, "GET", "/openapi/v2")[0] == 404


def test_errors_are_status_objects(apiserver: ApiServer) -> None:
    code, body = http(apiserver, "GET", "/apis/nothing.example/v1/things")
    assert code == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    code, body = http(apiserver, "GET", "/api/v1/namespaces/default/configmaps/missing")
    assert (code, body["message"], body["details"]["kind"]) == (
        404,
        'configmaps "missing" not found',
        "configmaps",
    )
    code, body = http(apiserver, "GET", "/api/v1/configmaps?labelSelector=a%20in%20(b")
    assert code == 400
    code, body = http(apiserver, "GET", "/api/v1/configmaps?fieldSelector=spec.nothing%3Dx")
    assert code == 400 and "field label not supported" in body["message"]
    code, body = http(
        apiserver,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "x", "namespace": "other"}},
    )
    assert code == 400
    code, body = http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {}})
    assert code == 422 and body["reason"] == "Invalid"
    code, body = http(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "Bad_Name"}}
    )
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    code, _ = http(
        apiserver,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {"metadata": {"name": "system:flagman:reader"}, "rules": []},
    )
    assert code == 201  # RBAC names may contain colons
    code, body = http(
        apiserver, "PUT", "/api/v1/namespaces/default/configmaps/missing", {"metadata": {"name": "missing"}}
    )
    assert code == 404  # no create-on-update
    for bad in ({"labels": ["a"]}, {"annotations": {"a": 1}}, {"finalizers": "x"}, {"name": 7}):
        code, body = http(
            apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b", **bad}}
        )
        assert code == 400 and "cannot unmarshal" in body["message"], bad
    code, body = http(
        apiserver,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        {"metadata": {"name": "d"}, "spec": "replicas: 3"},
    )
    assert code == 400
    http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "good"}})
    code, body = http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/good",
        {"metadata": {"labels": 1}},
        "application/merge-patch+json",
    )
    assert code == 400
    assert http(apiserver, "GET", "/api/v1/configmaps")[0] == 200  # nothing broken was stored


def test_table_output_and_alias_versions(apiserver: ApiServer) -> None:
    import urllib.request

    http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cm"}})
    request = urllib.request.Request(
        apiserver.url + "/api/v1/namespaces/default/configmaps", headers={"Accept": TABLE_ACCEPT}
    )
    with urllib.request.urlopen(request) as response:
        table = json.loads(response.read())
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]  # as kube-apiserver's
    assert table["rows"][0]["cells"][:2] == ["cm", 0]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"

    hpa = {
        "metadata": {"name": "podinfo"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    code, created = http(
        apiserver, "POST", "/apis/autoscaling/v2beta2/namespaces/default/horizontalpodautoscalers", hpa
    )
    assert code == 201 and created["apiVersion"] == "autoscaling/v2beta2"
    code, read = http(
        apiserver, "GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/podinfo"
    )
    assert code == 200 and read["apiVersion"] == "autoscaling/v2" and read["spec"]["maxReplicas"] == 4


def test_namespace_terminating_refuses_new_content(apiserver: ApiServer) -> None:
    http(apiserver, "POST", "/api/v1/namespaces", {"metadata": {"name": "closing"}})
    http(
        apiserver,
        "POST",
        "/api/v1/namespaces/closing/configmaps",
        {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
    )
    code, namespace = http(apiserver, "DELETE", "/api/v1/namespaces/closing")
    assert code == 200 and namespace["status"]["phase"] == "Terminating"
    code, body = http(
        apiserver, "POST", "/api/v1/namespaces/closing/configmaps", {"metadata": {"name": "late"}}
    )
    assert code == 403 and "because it is being terminated" in body["message"]
    # The namespace waits for its content; releasing the finalizer lets it go.
    assert http(apiserver, "GET", "/api/v1/namespaces/closing")[0] == 200
    http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/closing/configmaps/held",
        {"metadata": {"finalizers": None}},
        "application/merge-patch+json",
    )
    deadline = time.monotonic() + 5
    while http(apiserver, "GET", "/api/v1/namespaces/closing")[0] != 404:
        assert time.monotonic() < deadline, "namespace not removed"
        time.sleep(0.02)


async def test_watch_list_initial_events_end_bookmark(apiserver: ApiServer) -> None:
    http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}})
    http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}})
    base = apiserver.url + "/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession() as session:
        query = "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        mine = "&fieldSelector=metadata.name!%3Dkube-root-ca.crt"  # every namespace has that one
        async with session.get(base + query + mine + "&timeoutSeconds=2") as response:
            events = await read_events(response, 3)
        assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("BOOKMARK", None),
        ]
        assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        async with session.get(base + "?watch=true&sendInitialEvents=true") as response:
            assert response.status == 422


async def test_watch_timeout_bookmarks_and_gone(apiserver: ApiServer) -> None:
    _, listed = http(apiserver, "GET", "/api/v1/namespaces/default/configmaps")
    rv = listed["metadata"]["resourceVersion"]
    base = apiserver.url + "/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(
            f"{base}?watch=True&resourceVersion={rv}&allowWatchBookmarks=True&timeoutSeconds=1"
        ) as response:
            body = await response.text()
        assert 0.9 < time.monotonic() - started < 3
        types = [json.loads(line)["type"] for line in body.splitlines()]
        assert types and set(types) == {"BOOKMARK"}
        async with session.get(f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=1") as response:
            assert await response.text() == ""  # no bookmarks unless asked
        http(apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "new"}})
        apiserver.compact()
        async with session.get(f"{base}?watch=true&resourceVersion={rv}") as response:
            assert response.status == 200
            events = [json.loads(line) for line in (await response.text()).splitlines()]
        assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"


async def test_dropped_watch_ends_the_stream_and_latency_is_added(apiserver: ApiServer) -> None:
    async with aiohttp.ClientSession() as session:
        url = apiserver.url + "/api/v1/namespaces/default/configmaps?watch=true"
        url += "&fieldSelector=metadata.name!%3Dkube-root-ca.crt"  # no initial ADDED events
        async with session.get(url) as response:
            await asyncio.sleep(0.1)
            apiserver.faults.drop_watches("configmaps")
            async with asyncio.timeout(3):
                assert await response.text() == ""
        apiserver.faults.delay("list", "configmaps", 0.3, times=1)
        started = time.monotonic()
        async with session.get(apiserver.url + "/api/v1/namespaces/default/configmaps") as response:
            assert response.status == 200
        assert time.monotonic() - started >= 0.3
        apiserver.faults.fail("watch", "configmaps", 410)
        async with session.get(url) as response:  # like kube-apiserver: a 200 stream with one ERROR event
            assert response.status == 200
            events = [json.loads(line) for line in (await response.text()).splitlines()]
        assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [
            ("ERROR", 410, "Expired")
        ]
        apiserver.faults.fail("create", "configmaps", 429)
        async with session.post(
            apiserver.url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "x"}}
        ) as response:
            assert response.status == 429
            assert (await response.json())["reason"] == "TooManyRequests"
    logged = [r for r in apiserver.request_log if r.verb == "list" and r.resource == "configmaps"]
    assert logged[-1].duration >= 0.3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, "apiserver exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("apiserver did not listen")


def test_cli_serves_until_sigterm_and_persists_state(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "flagman",
        "sandbox",
        "apiserver",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--state",
        str(state),
        "--kubernetes-minor",
        "30",
    ]

    class Target:
        url = f"http://127.0.0.1:{port}"

    target: Any = Target()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        assert http(target, "GET", "/version")[1]["minor"] == "30"
        code, created = http(
            target,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "kept"}, "data": {"a": "b"}},
        )
        assert code == 201
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert state.exists()

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        code, kept = http(target, "GET", "/api/v1/namespaces/default/configmaps/kept")
        assert (
            code == 200
            and kept["data"] == {"a": "b"}
            and kept["metadata"]["uid"] == created["metadata"]["uid"]
        )
        code, other = http(
            target, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "next"}}
        )
        assert int(other["metadata"]["resourceVersion"]) > int(kept["metadata"]["resourceVersion"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_unreadable_state_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flagman",
            "sandbox",
            "apiserver",
            "--port",
            str(_free_port()),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "cannot read state file" in result.stderr
    assert state.read_text() == "{not json"  # nothing lost


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints(apiserver: ApiServer, path: str) -> None:
    import urllib.request

    with urllib.request.urlopen(apiserver.url + path) as response:
        assert response.status == 200


def test_state_file_restores_custom_resources(tmp_path: pathlib.Path) -> None:
    state = str(tmp_path / "state.json")
    canary = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "30s", "threshold": 2, "iterations": 10},
        },
    }
    with ApiServer(state_file=state, workdir=tmp_path / "first") as server:
        for crd in flagger_crds():
            http(server, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        code, created = http(server, "POST", "/apis/flagger.app/v1beta1/namespaces/default/canaries", canary)
        assert code == 201
    with ApiServer(state_file=state, workdir=tmp_path / "second") as server:
        code, restored = http(server, "GET", "/apis/flagger.app/v1beta1/namespaces/default/canaries/podinfo")
        assert code == 200 and restored["metadata"]["uid"] == created["metadata"]["uid"]
        code, _ = http(
            server,
            "POST",
            "/apis/flagger.app/v1beta1/namespaces/default/canaries",
            {
                **canary,
                "metadata": {"name": "bad"},
                "spec": {**canary["spec"], "analysis": {"threshold": "two"}},
            },
        )
        assert code == 422  # the schema came back with the CRD


def test_aggregated_discovery_when_asked(apiserver: ApiServer) -> None:
    import urllib.request

    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )
    for path in ("/api", "/apis"):
        request = urllib.request.Request(apiserver.url + path, headers={"Accept": accept})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2;")
            body = json.loads(response.read())
        assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
        groups = {item["metadata"]["name"]: item for item in body["items"]}
        if path == "/api":
            assert list(groups) == [""]
            pods = next(r for r in groups[""]["versions"][0]["resources"] if r["resource"] == "pods")
            assert {s["subresource"] for s in pods["subresources"]} == {"status", "log"}
        else:
            assert "" not in groups
            assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v2beta2"]
            deployments = next(
                r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"
            )
            scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
            assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    code, legacy = http(apiserver, "GET", "/apis")
    assert code == 200 and legacy["kind"] == "APIGroupList"  # plain JSON Accept keeps the legacy answer


def test_immutable_fields(apiserver: ApiServer) -> None:
    merge = "application/merge-patch+json"
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    assert http(apiserver, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)[0] == 201
    code, body = http(
        apiserver,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d",
        {"spec": {"selector": {"matchLabels": {"app": "other"}}}},
        merge,
    )
    assert code == 422  # as kube-apiserver: the template's labels no longer match, and the selector is fixed
    assert [c["field"] for c in body["details"]["causes"]] == [
        "spec.template.metadata.labels",
        "spec.selector",
    ]
    assert body["message"] == (
        'Deployment.apps "d" is invalid: [spec.template.metadata.labels: Invalid value: {"app":"d"}: '
        "`selector` does not match template `labels`, "
        'spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable]'
    )

    http(
        apiserver,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True},
    )
    code, _ = http(
        apiserver, "PATCH", "/api/v1/namespaces/default/configmaps/frozen", {"data": {"a": "2"}}, merge
    )
    assert code == 422
    code, _ = http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/frozen",
        {"metadata": {"labels": {"x": "y"}}},
        merge,
    )
    assert code == 200  # metadata stays mutable

    service = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    http(apiserver, "POST", "/api/v1/namespaces/default/services", service)
    code, _ = http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/services/s",
        {"spec": {"clusterIP": "127.0.128.1"}},
        merge,
    )
    assert code == 200  # allocated after create (the sandbox runtime does this)
    code, _ = http(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/services/s",
        {"spec": {"clusterIP": "127.0.128.2"}},
        merge,
    )
    assert code == 422
    code, kept = http(apiserver, "PUT", "/api/v1/namespaces/default/services/s", service)
    assert code == 200 and kept["spec"]["clusterIP"] == "127.0.128.1"  # an update that omits it keeps it
