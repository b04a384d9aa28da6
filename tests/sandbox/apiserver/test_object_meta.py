"""Names and generateName prefixes are validated as kube-apiserver's ValidateObjectMeta does, per kind.

The messages were checked against kube-apiserver v1.34 (``make conformance`` replays these requests).
"""

from __future__ import annotations

from sandbox.apiserver.testing import ApiServer

from .conftest import http

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
EVENT = {
    "regarding": {"kind": "Canary", "name": "podinfo", "namespace": "default"},
    "reason": "Synced",
    "note": "m",
    "type": "Normal",
    "eventTime": "2026-01-01T00:00:00.000000Z",
    "reportingController": "flagman",
    "reportingInstance": "flagman-1",
    "action": "Synced",
}
EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events"
CORE_EVENT = {
    "involvedObject": {"kind": "Canary", "name": "podinfo", "namespace": "default"},
    "reason": "Synced",
    "message": "m",
}


def test_generate_name_prefix_ending_in_a_dot_is_refused_like_the_real_server(apiserver: ApiServer) -> None:
    """Issue #8: the Events the controller wrote with generateName "podinfo." were lost on a real cluster."""
    code, body = http(apiserver, "POST", EVENTS, {**EVENT, "metadata": {"generateName": "podinfo."}})
    assert code == 422 and body["reason"] == "Invalid"
    details = body["details"]
    generated = details["name"]
    assert generated.startswith("podinfo.") and len(generated) == len("podinfo.") + 5
    assert body["message"] == (
        f'Event "{generated}" is invalid: metadata.generateName: Invalid value: "podinfo.": {SUBDOMAIN}'
    )
    assert details["kind"] == "Event" and not details.get("group")
    assert details["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "podinfo.": {SUBDOMAIN}',
            "field": "metadata.generateName",
        }
    ]
    assert http(apiserver, "GET", EVENTS)[1]["items"] == []
    code, body = http(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"generateName": "c."}}
    )
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.generateName"


def test_core_v1_events_keep_their_legacy_leniency(apiserver: ApiServer) -> None:
    """kube-apiserver 1.34 validates no name of an Event written through core/v1 (ValidateEventCreate)."""
    core = "/api/v1/namespaces/default/events"
    code, body = http(apiserver, "POST", core, {**CORE_EVENT, "metadata": {"generateName": "podinfo."}})
    assert code == 201 and body["metadata"]["name"].startswith("podinfo.")
    assert http(apiserver, "POST", core, {**CORE_EVENT, "metadata": {"name": "Bad_Name"}})[0] == 201


def test_generate_name_may_end_in_a_dash_and_explicit_dotted_names_are_fine(apiserver: ApiServer) -> None:
    code, body = http(apiserver, "POST", EVENTS, {**EVENT, "metadata": {"generateName": "podinfo-"}})
    assert code == 201 and body["metadata"]["name"].startswith("podinfo-")
    code, body = http(apiserver, "POST", EVENTS, {**EVENT, "metadata": {"name": "podinfo.1889e5a2c0f0a001"}})
    assert code == 201


def test_namespaces_are_labels_and_services_dns1035_labels(apiserver: ApiServer) -> None:
    code, body = http(apiserver, "POST", "/api/v1/namespaces", {"metadata": {"name": "Team_A"}})
    assert code == 422
    assert (
        body["message"] == f'Namespace "Team_A" is invalid: metadata.name: Invalid value: "Team_A": {LABEL}'
    )
    code, body = http(apiserver, "POST", "/api/v1/namespaces", {"metadata": {"name": "team.a"}})
    assert body["message"] == (
        'Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": must not contain dots'
    )
    code, body = http(apiserver, "POST", "/api/v1/namespaces/default/services", {"metadata": {"name": "1st"}})
    assert code == 422
    assert body["message"] == f'Service "1st" is invalid: metadata.name: Invalid value: "1st": {DNS1035}'
    code, _ = http(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "1st.config"}}
    )
    assert code == 201  # a subdomain


def test_too_long_names_and_several_errors_are_aggregated(apiserver: ApiServer) -> None:
    long_name = "a" * 254
    code, body = http(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": long_name}}
    )
    assert code == 422
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{long_name}": must be no more than 253 characters',
            "field": "metadata.name",
        }
    ]
    code, body = http(
        apiserver, "POST", "/api/v1/namespaces/default/services", {"metadata": {"generateName": "web."}}
    )
    assert code == 422
    name = body["details"]["name"]
    assert body["message"] == (
        f'Service "{name}" is invalid: [metadata.generateName: Invalid value: "web.": {DNS1035}, '
        f'metadata.name: Invalid value: "{name}": {DNS1035}]'
    )


def test_rbac_names_are_path_segments(apiserver: ApiServer) -> None:
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    assert (
        http(apiserver, "POST", path, {"metadata": {"name": "system:flagman:Reader"}, "rules": []})[0] == 201
    )
    code, body = http(apiserver, "POST", path, {"metadata": {"name": "a/b"}, "rules": []})
    assert code == 422
    assert body["message"] == (
        'ClusterRole.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": '
        "may not contain '/'"
    )
