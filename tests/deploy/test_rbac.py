"""RBAC sufficiency: every (group, resource, verb) the controller uses is granted by the chart's and the
kustomize base's ClusterRole; nothing of a mesh API group is; no wildcard and no delete is.

The usage comes from `recorded_controller_requests()`. Today it is derived from the controller's code paths
(flagger-controller.md §1, §3, §6, §7 and controller/kube/); once the controller integration tests write the
sandbox API server's request log, point that function at it (see its docstring) and the same tests check
what the controller really sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.deploy.tooling import CRD_SOURCE, find, helm_template, kustomize

ApiUse = tuple[str, str, str]  # (API group, resource[/subresource], verb); "" is the core group

# Environment variable naming a JSON-lines request log ({"method", "path", "query"} per line), for example
# written by tests/controller/integration from the sandbox API server's RequestLog.
REQUEST_LOG_VARIABLE = "FLAGMAN_CONTROLLER_REQUEST_LOG"

MESH_GROUPS = {
    "networking.istio.io",
    "appmesh.k8s.aws",
    "split.smi-spec.io",
    "specs.smi-spec.io",
    "gloo.solo.io",
    "gateway.solo.io",
    "projectcontour.io",
    "traefik.io",
    "traefik.containo.us",
    "kuma.io",
    "gateway.networking.k8s.io",
    "apisix.apache.org",
    "serving.knative.dev",
    "policy.linkerd.io",
    "networking.k8s.io",
    "extensions",
}


# Grants outside the "no wildcard, no delete" rule, each for a provider that needs it (as Flagger's chart):
# the external metrics API names a metric as its resource; the keptn provider deletes the Analyses it ran.
WILDCARD_RESOURCE_GROUPS = {"external.metrics.k8s.io"}
DELETABLE = {("metrics.keptn.sh", "analyses")}


def controller_api_usage_from_code() -> set[ApiUse]:
    """What the controller calls on the kubernetes provider, read off its code paths.

    Watch caches (list + watch) of canaries, deployments, services, HPAs, configmaps, secrets and
    metric templates; bootstrap/promotion writes of `-primary` Deployments, HPAs and tracked configs;
    the three ClusterIP services; Canary status through the status subresource; the controller's patches
    of the Canary (finalizer, annotations) and its core events; the events API; the leader-election Lease.
    """
    usage: set[ApiUse] = set()

    def add(group: str, resource: str, *verbs: str) -> None:
        usage.update((group, resource, verb) for verb in verbs)

    add("apps", "deployments", "get", "list", "watch", "create", "update", "patch")
    add("apps", "daemonsets", "get", "list", "watch", "create", "update", "patch")
    add("keda.sh", "scaledobjects", "get", "create", "update")
    add("metrics.keptn.sh", "keptnmetrics", "get")
    add("metrics.keptn.sh", "analyses", "get", "create", "delete")
    add("external.metrics.k8s.io", "*", "get")
    add("", "services", "get", "list", "watch", "create", "update")
    add("", "configmaps", "get", "list", "watch", "create", "update")
    add("", "secrets", "get", "list", "watch", "create", "update")
    add("autoscaling", "horizontalpodautoscalers", "get", "list", "watch", "create", "update")
    add("events.k8s.io", "events", "create")
    add("", "events", "create")
    add("flagger.app", "canaries", "get", "list", "watch", "update", "patch")  # update: revertOnDeletion
    add("flagger.app", "canaries/status", "update", "patch")
    add("flagger.app", "metrictemplates", "get", "list", "watch")
    add("flagger.app", "alertproviders", "get")
    add("coordination.k8s.io", "leases", "get", "create", "update")
    return usage


_VERBS_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def api_use_of_request(method: str, path: str, query: str = "") -> ApiUse | None:
    """The RBAC attributes of one HTTP request, as the API server's request-info resolver derives them.

    Discovery and other non-resource paths (`/api`, `/apis`, `/version`, `/openapi/...`) give None.
    """
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 2 and rest[0] == "namespaces" and (len(rest) > 2):
        rest = rest[2:]  # namespaced: /namespaces/<ns>/<resource>[/<name>[/<subresource>]]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    method = method.upper()
    watch = parse_qs(query).get("watch", ["false"])[0] in ("1", "true")
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS_BY_METHOD.get(method, method.lower())
    return group, resource, verb


def api_usage_from_request_log(records: Iterable[Mapping[str, Any]]) -> set[ApiUse]:
    uses = (api_use_of_request(r["method"], r["path"], r.get("query", "")) for r in records)
    return {use for use in uses if use is not None}


def recorded_controller_requests() -> set[ApiUse]:
    """The (group, resource, verb) triples the controller used.

    The usage derived from the code, plus, when the environment variable
    FLAGMAN_CONTROLLER_REQUEST_LOG names a JSON-lines file of the sandbox API server's RequestLog records
    made by the controller (`{"method": ..., "path": ..., "query": ...}`, e.g. filtered on the
    controller's User-Agent), every use recorded there (scripts/run-tests.sh sets it for `make test`).
    """
    uses = controller_api_usage_from_code()
    log_file = os.environ.get(REQUEST_LOG_VARIABLE)
    if log_file and Path(log_file).is_file():  # make test records it while tests/controller runs first
        lines = Path(log_file).read_text().splitlines()
        uses |= api_usage_from_request_log(json.loads(line) for line in lines if line.strip())
    return uses


# --- what a ClusterRole grants ----------------------------------------------------------------------


def grants(rules: Iterable[Mapping[str, Any]], use: ApiUse) -> bool:
    group, resource, verb = use
    return any(
        group in rule.get("apiGroups", [])
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and verb in rule.get("verbs", [])
        for rule in rules
    )


def chart_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = find(
        helm_template("flagman", "flagger", "flagger"), "ClusterRole", "flagger"
    )["rules"]
    return rules


def kustomize_rules() -> list[dict[str, Any]]:
    if not CRD_SOURCE.is_file():
        pytest.skip("kustomize/base/flagman/crd.yaml does not exist yet (helper controller-core)")
    rules: list[dict[str, Any]] = find(kustomize("base/flagman"), "ClusterRole", "flagger")["rules"]
    return rules


RULE_SOURCES = {"chart": chart_rules, "kustomize": kustomize_rules}


@pytest.mark.parametrize("source", RULE_SOURCES)
def test_every_call_the_controller_makes_is_granted(source: str) -> None:
    rules = RULE_SOURCES[source]()
    missing = sorted(use for use in recorded_controller_requests() if not grants(rules, use))
    assert not missing, f"the {source} ClusterRole does not grant: {missing}"


@pytest.mark.parametrize("source", RULE_SOURCES)
def test_no_mesh_group_no_wildcard_no_delete(source: str) -> None:
    rules = RULE_SOURCES[source]()
    for rule in rules:
        assert not set(rule.get("apiGroups", [])) & MESH_GROUPS, rule
        for key in ("apiGroups", "resources", "verbs"):
            if key == "resources" and set(rule["apiGroups"]) <= WILDCARD_RESOURCE_GROUPS:
                continue
            assert "*" not in rule.get(key, []), rule
        forbidden = {"delete", "deletecollection", "escalate", "bind", "impersonate"}
        if all(
            (group, resource) in DELETABLE for group in rule["apiGroups"] for resource in rule["resources"]
        ):
            forbidden.discard("delete")
        assert not forbidden & set(rule["verbs"]), rule
        assert "nonResourceURLs" not in rule, rule


def test_the_grants_check_can_fail() -> None:
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]
    assert grants(rules, ("apps", "deployments", "get"))
    assert not grants(rules, ("apps", "deployments", "update"))
    assert not grants(rules, ("", "deployments", "get"))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/apis/apps/v1/namespaces/test/deployments/podinfo", "", ("apps", "deployments", "get")),
        ("GET", "/apis/apps/v1/deployments", "", ("apps", "deployments", "list")),
        ("GET", "/apis/apps/v1/deployments", "watch=1&resourceVersion=5", ("apps", "deployments", "watch")),
        ("GET", "/api/v1/namespaces/test/secrets", "watch=true", ("", "secrets", "watch")),
        ("POST", "/api/v1/namespaces/test/services", "", ("", "services", "create")),
        (
            "PUT",
            "/apis/flagger.app/v1beta1/namespaces/test/canaries/podinfo/status",
            "",
            ("flagger.app", "canaries/status", "update"),
        ),
        (
            "PATCH",
            "/apis/flagger.app/v1beta1/namespaces/test/canaries/podinfo",
            "",
            ("flagger.app", "canaries", "patch"),
        ),
        ("POST", "/apis/events.k8s.io/v1/namespaces/test/events", "", ("events.k8s.io", "events", "create")),
        ("GET", "/api/v1/namespaces", "", ("", "namespaces", "list")),
        ("GET", "/api/v1/namespaces/test", "", ("", "namespaces", "get")),
        ("DELETE", "/api/v1/namespaces/test/pods/x", "", ("", "pods", "delete")),
        ("GET", "/apis", "", None),
        ("GET", "/version", "", None),
        ("GET", "/apis/apps/v1", "", None),
    ],
)
def test_requests_map_to_rbac_attributes(method: str, path: str, query: str, expected: ApiUse | None) -> None:
    assert api_use_of_request(method, path, query) == expected


def test_a_recorded_log_file_adds_to_the_derived_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "requests.jsonl"
    records = [
        {"method": "GET", "path": "/apis/flagger.app/v1beta1/canaries", "query": "watch=1"},
        {"method": "GET", "path": "/apis", "query": ""},
        {"method": "DELETE", "path": "/api/v1/namespaces/test/services/podinfo", "query": ""},
    ]
    log_file.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    monkeypatch.setenv(REQUEST_LOG_VARIABLE, str(log_file))
    usage = recorded_controller_requests()
    assert usage == controller_api_usage_from_code() | {("", "services", "delete")}
    assert not grants(chart_rules(), ("", "services", "delete"))  # such a log would fail the check above


# Flagger's own chart ClusterRole (flagger-deployables.md §1.3), the groups that matter to the kubernetes
# provider. "Change only the image" means Flagman must work under these grants too.
_FLAGGER_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
FLAGGER_CHART_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "events",
            "configmaps",
            "configmaps/finalizers",
            "secrets",
            "secrets/finalizers",
            "services",
            "services/finalizers",
        ],
        "verbs": _FLAGGER_VERBS,
    },
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": _FLAGGER_VERBS},
    {
        "apiGroups": ["apps"],
        "resources": ["daemonsets", "daemonsets/finalizers", "deployments", "deployments/finalizers"],
        "verbs": _FLAGGER_VERBS,
    },
    {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers", "horizontalpodautoscalers/finalizers"],
        "verbs": _FLAGGER_VERBS,
    },
    {
        "apiGroups": ["flagger.app"],
        "resources": [
            "canaries",
            "canaries/status",
            "canaries/finalizers",
            "metrictemplates",
            "metrictemplates/status",
            "alertproviders",
            "alertproviders/status",
        ],
        "verbs": _FLAGGER_VERBS,
    },
    {
        "apiGroups": ["keda.sh"],
        "resources": ["scaledobjects", "scaledobjects/finalizers"],
        "verbs": _FLAGGER_VERBS,
    },
    {"apiGroups": ["metrics.keptn.sh"], "resources": ["keptnmetrics", "analyses"], "verbs": _FLAGGER_VERBS},
    {"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "watch", "list"]},
]


# What the controller does when a use is forbidden: the recorder writes core/v1 events when events.k8s.io
# answers 403 (controller/kube/recorder.py; tests/controller/kube/test_adapters.py proves the fallback).
FORBIDDEN_FALLBACKS: dict[ApiUse, ApiUse] = {
    ("events.k8s.io", "events", "create"): ("", "events", "create"),
    ("events.k8s.io", "events", "patch"): ("", "events", "patch"),
}


def test_flaggers_own_chart_rbac_covers_what_the_controller_calls() -> None:
    """Moving from Flagger by changing only the image: Flagger's ClusterRole must be enough."""
    missing = sorted(
        use
        for use in recorded_controller_requests()
        if not grants(FLAGGER_CHART_RULES, use)
        and not (use in FORBIDDEN_FALLBACKS and grants(FLAGGER_CHART_RULES, FORBIDDEN_FALLBACKS[use]))
    )
    assert not missing, f"Flagger's chart ClusterRole does not grant: {missing}"
