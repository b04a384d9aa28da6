"""Bootstrap derivations of spec section 1 as pure functions of the target Deployment."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from controller.api.canary import ServiceSpec, UnmanagedMetadata
from controller.api.fields import FieldReader
from controller.errors import TargetError
from controller.kube.autoscalers import build_primary_hpa, primary_hpa_update
from controller.kube.configs import (
    ConfigRef,
    config_checksum,
    discover_config_refs,
    exclusion_reason,
    go_json_dumps,
    primary_config_copy,
    rename_config_refs,
)
from controller.kube.objects import filter_by_prefixes, parse_prefixes
from controller.kube.primary import build_primary_deployment, promoted_primary
from controller.kube.selectors import DEFAULT_SELECTOR_LABELS, SelectorLabel, find_selector_label
from controller.kube.services import (
    desired_service,
    discover_ports,
    reconcile_service,
    service_names,
)
from controller.rollout.ports import ServicePort
from tests.controller.kube.fixtures import CANARY, podinfo_deployment

LABEL = SelectorLabel("app", "podinfo")


# --- 1.1 selector label ---------------------------------------------------------------------------


def test_selector_label_is_the_first_configured_key_present() -> None:
    target = podinfo_deployment()
    assert find_selector_label(target) == SelectorLabel("app", "podinfo")
    assert find_selector_label(target, ("tier", "app")) == SelectorLabel("tier", "web")


def test_missing_selector_label_is_a_target_error_in_flaggers_words() -> None:
    with pytest.raises(TargetError) as caught:
        find_selector_label(podinfo_deployment(), ("name", "app.kubernetes.io/name"))
    assert str(caught.value) == (
        "getSelectorLabel failed: deployment podinfo.default spec.selector.matchLabels "
        "must contain one of [name app.kubernetes.io/name]"
    )


# --- 1.2 primary deployment ---------------------------------------------------------------------------


def test_label_prefix_filter_keeps_nothing_by_default_and_never_flux_keys() -> None:
    labels = {"app": "a", "team/x": "1", "kustomize.toolkit.fluxcd.io/name": "n"}
    assert filter_by_prefixes(labels, ()) == {}
    assert filter_by_prefixes(labels, parse_prefixes("team,app")) == {"app": "a", "team/x": "1"}
    assert filter_by_prefixes(labels, ["*"]) == {"app": "a", "team/x": "1"}


def test_primary_deployment_derivation() -> None:
    target = podinfo_deployment()
    tracked = [ConfigRef("configmap", "podinfo-config-env"), ConfigRef("secret", "podinfo-secret-vol")]
    primary = build_primary_deployment(
        target,
        CANARY,
        LABEL,
        include_prefixes=("app.kubernetes.io",),
        selector_labels=DEFAULT_SELECTOR_LABELS,
        tracked=tracked,
        flagger_id="fixed-id",
    )
    meta = primary["metadata"]
    assert meta["name"] == "podinfo-primary"
    assert meta["labels"] == {"app": "podinfo-primary", "app.kubernetes.io/part-of": "shop"}
    assert meta["annotations"] == {
        "app.kubernetes.io/owner": "team-a",
        "deployment.kubernetes.io/revision": "3",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": "podinfo",
            "uid": CANARY.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = primary["spec"]
    assert spec["replicas"] == 1  # target at 0 -> 1
    assert spec["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert (spec["progressDeadlineSeconds"], spec["minReadySeconds"], spec["revisionHistoryLimit"]) == (
        60,
        3,
        5,
    )
    template = spec["template"]
    assert template["metadata"]["labels"] == {"app": "podinfo-primary", "tier": "web"}
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "flagger-id": "fixed-id"}
    pod = template["spec"]
    env = pod["containers"][0]["env"]
    assert env[0]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config-env-primary"
    assert env[1]["valueFrom"]["secretKeyRef"]["name"] == "podinfo-secret-env"  # not tracked
    assert pod["volumes"][1]["secret"]["secretName"] == "podinfo-secret-vol-primary"
    anti = pod["affinity"]["podAntiAffinity"]
    preferred = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"]
    assert preferred["matchLabels"] == {"app": "podinfo-primary", "other": "podinfo"}
    assert preferred["matchExpressions"][0]["values"] == ["x", "podinfo-primary", "podinfo"]
    required = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"]
    assert required["matchLabels"] == {"name": "podinfo-primary"}
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {"app": "podinfo-primary"}
    plain_affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert plain_affinity["labelSelector"]["matchLabels"] == {"app": "podinfo"}
    # The source object is never modified.
    assert target["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["labelSelector"][
        "matchLabels"
    ] == {"app": "podinfo"}


def test_primary_replicas_follow_a_positive_target_count_and_ids_are_fresh() -> None:
    target = podinfo_deployment()
    target["spec"]["replicas"] = 3
    first = build_primary_deployment(target, CANARY, LABEL, include_prefixes=(), selector_labels=("app",))
    second = build_primary_deployment(target, CANARY, LABEL, include_prefixes=(), selector_labels=("app",))
    assert first["spec"]["replicas"] == 3
    assert first["metadata"]["labels"] == {"app": "podinfo-primary"}
    first_id = first["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    assert first_id != second["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    assert len(first_id) == 36


# --- 1.3 promotion ----------------------------------------------------------------------------------


def _primary() -> dict[str, Any]:
    primary = build_primary_deployment(
        podinfo_deployment(),
        CANARY,
        LABEL,
        include_prefixes=(),
        selector_labels=DEFAULT_SELECTOR_LABELS,
        flagger_id="live-id",
    )
    primary["metadata"]["resourceVersion"] = "42"
    primary["status"] = {"replicas": 1}
    return primary


def _promote(target: dict[str, Any], **options: Any) -> dict[str, Any]:
    """`promoted_primary` of `_primary()` with no prefixes, default selectors, no HPA, configs unchanged."""
    defaults: dict[str, Any] = {
        "include_prefixes": (),
        "selector_labels": DEFAULT_SELECTOR_LABELS,
        "has_autoscaler": False,
        "configs_changed": False,
    }
    return promoted_primary(_primary(), target, LABEL, **(defaults | options))


def test_promotion_copies_the_template_and_filters_annotations() -> None:
    target = podinfo_deployment(image="stefanprodan/podinfo:3.1.1")
    target["spec"]["replicas"] = 2
    promoted = _promote(target, include_prefixes=("app.kubernetes.io",))
    assert promoted["metadata"]["resourceVersion"] == "42"
    assert promoted["metadata"]["annotations"] == {"app.kubernetes.io/owner": "team-a"}
    assert promoted["metadata"]["labels"] == {"app": "podinfo-primary", "app.kubernetes.io/part-of": "shop"}
    assert promoted["spec"]["replicas"] == 2
    assert promoted["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    template = promoted["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.1"
    # The template changed (new image), which restarts the pods; the id itself is kept.
    assert template["metadata"]["annotations"]["flagger-id"] == "live-id"


def test_promotion_with_an_autoscaler_leaves_replicas_to_the_hpa() -> None:
    target = podinfo_deployment()
    target["spec"]["replicas"] = 2
    promoted = _promote(target, has_autoscaler=True)
    assert promoted["spec"]["replicas"] == 1


def test_promotion_restarts_primary_pods_only_when_something_changed() -> None:
    target = podinfo_deployment()
    unchanged = _promote(target, make_flagger_id=lambda: "new-id")
    assert unchanged["spec"]["template"] == _primary()["spec"]["template"]
    config_change = _promote(target, configs_changed=True, make_flagger_id=lambda: "new-id")
    assert config_change["spec"]["template"]["metadata"]["annotations"]["flagger-id"] == "new-id"


# --- 1.4 tracked configs ------------------------------------------------------------------------------


def test_config_discovery_covers_volumes_projected_env_envfrom_and_init_containers() -> None:
    refs = discover_config_refs(podinfo_deployment()["spec"]["template"]["spec"])
    assert {ref.status_key: ref.optional for ref in refs} == {
        "configmap/podinfo-config-vol": False,
        "secret/podinfo-secret-vol": False,
        "configmap/podinfo-config-projected": False,
        "secret/podinfo-secret-projected": False,
        "configmap/podinfo-config-env": False,
        "secret/podinfo-secret-env": False,
        "configmap/podinfo-optional": True,
        "configmap/podinfo-config-all-env": False,
        "secret/podinfo-secret-all-env": False,
        "configmap/podinfo-init-env": False,
    }


def test_a_config_referenced_once_as_mandatory_is_mandatory() -> None:
    pod_spec = {
        "containers": [
            {"name": "a", "envFrom": [{"configMapRef": {"name": "cfg", "optional": True}}]},
            {"name": "b", "envFrom": [{"configMapRef": {"name": "cfg"}}]},
        ]
    }
    assert discover_config_refs(pod_spec) == [ConfigRef("configmap", "cfg", optional=False)]


def test_checksum_is_go_json_sha256_first_8_bytes() -> None:
    data = {"b": "<x&y>", "a": "1"}
    assert go_json_dumps(data) == '{"a":"1","b":"\\u003cx\\u0026y\\u003e"}'
    expected = hashlib.sha256(b'{"a":"1","b":"\\u003cx\\u0026y\\u003e"}').digest()[:8].hex()
    assert config_checksum({"data": data, "binaryData": {"z": "AA=="}}) == expected
    assert len(expected) == 16
    assert config_checksum({}) == hashlib.sha256(b"{}").digest()[:8].hex()


def test_exclusions() -> None:
    assert exclusion_reason(
        "configmap", {"metadata": {"annotations": {"flagger.app/config-tracking": "disabled"}}}
    )
    assert exclusion_reason("secret", {"type": "kubernetes.io/dockerconfigjson"})
    assert exclusion_reason("secret", {"type": "kubernetes.io/tls"}) is None
    assert exclusion_reason("configmap", {"metadata": {}}) is None


def test_primary_config_copy_keeps_other_owners_and_drops_binary_data() -> None:
    source = {
        "metadata": {
            "name": "cfg",
            "namespace": "default",
            "labels": {"app": "x", "team": "t"},
            "annotations": {"a": "b"},
        },
        "data": {"k": "v"},
        "binaryData": {"bin": "AA=="},
        "immutable": True,
    }
    other_owner = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "other",
        "uid": "u2",
        "controller": True,
    }
    existing = {"metadata": {"ownerReferences": [other_owner, {"uid": CANARY.uid, "name": "podinfo"}]}}
    copy = primary_config_copy("configmap", source, CANARY, ("team",), existing)
    assert copy["metadata"]["name"] == "cfg-primary"
    assert copy["metadata"]["labels"] == {"team": "t"}
    assert "annotations" not in copy["metadata"]
    assert copy["data"] == {"k": "v"} and "binaryData" not in copy and "immutable" not in copy
    owners = copy["metadata"]["ownerReferences"]
    assert [(o["uid"], o["controller"]) for o in owners] == [(CANARY.uid, True), ("u2", False)]
    secret = primary_config_copy(
        "secret", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {}}, CANARY, ()
    )
    assert secret["type"] == "kubernetes.io/tls" and secret["kind"] == "Secret"


def test_reference_rewrite_touches_only_tracked_configs() -> None:
    pod_spec = podinfo_deployment()["spec"]["template"]["spec"]
    renamed = rename_config_refs(pod_spec, [ConfigRef("configmap", "podinfo-init-env")])
    assert renamed["initContainers"][0]["envFrom"][0]["configMapRef"]["name"] == "podinfo-init-env-primary"
    assert renamed["volumes"][0]["configMap"]["name"] == "podinfo-config-vol"
    assert pod_spec["initContainers"][0]["envFrom"][0]["configMapRef"]["name"] == "podinfo-init-env"


# --- 1.5 services -------------------------------------------------------------------------------------


def _service(**fields: Any) -> ServiceSpec:
    """`spec.service` as the Canary's JSON writes it."""
    problems: list[str] = []
    service = ServiceSpec.from_reader(FieldReader(fields, "spec.service", problems))
    assert not problems, problems
    return service


def _ports(ports: tuple[ServicePort, ...]) -> set[tuple[str, int]]:
    return {(port.name, port.port) for port in ports}


def test_port_discovery_matches_flaggers_tests() -> None:
    target = podinfo_deployment()
    assert _ports(discover_ports(target, _service(port=9898))) == {
        ("http-metrics", 8080),
        ("tcp-podinfo-2", 8888),
    }
    assert _ports(discover_ports(target, _service(port=80, targetPort=9898))) == {
        ("http-metrics", 8080),
        ("tcp-podinfo-2", 8888),
    }
    # targetPort by name: the container port named "http" is the main port.
    assert _ports(discover_ports(target, _service(port=8080, targetPort="http"))) == {
        ("http-metrics", 8080),
        ("tcp-podinfo-2", 8888),
    }


def test_port_discovery_keeps_udp() -> None:
    target = podinfo_deployment()
    target["spec"]["template"]["spec"]["containers"][0]["ports"].append(
        {"name": "dns", "containerPort": 53, "protocol": "UDP"}
    )
    by_name = {port.name: port for port in discover_ports(target, _service(port=9898))}
    assert by_name["dns"].protocol == "UDP"
    assert by_name["http-metrics"].protocol == "TCP"


def test_desired_services() -> None:
    spec = _service(
        port=9898,
        portDiscovery=True,
        appProtocol="http",
        canary={"labels": {"role": "canary"}, "annotations": {"note": "c"}},
    )
    names = service_names(spec, "podinfo")
    assert (names.apex, names.primary, names.canary) == ("podinfo", "podinfo-primary", "podinfo-canary")
    assert service_names(_service(name="web", port=80), "podinfo").canary == "web-canary"
    canary_svc = desired_service(
        "canary", names, spec, {"app": "podinfo"}, "app", CANARY, discover_ports(podinfo_deployment(), spec)
    )
    assert canary_svc["metadata"]["labels"] == {"role": "canary", "app": "podinfo-canary"}
    assert canary_svc["metadata"]["annotations"] == {
        "note": "c",
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
        "helm.toolkit.fluxcd.io/driftDetection": "disabled",
    }
    assert canary_svc["spec"]["selector"] == {"app": "podinfo"}
    assert canary_svc["spec"]["type"] == "ClusterIP"
    assert canary_svc["spec"]["ports"][0] == {
        "name": "http",
        "protocol": "TCP",
        "port": 9898,
        "targetPort": 9898,
        "appProtocol": "http",
    }
    headless = desired_service(
        "apex", names, _service(port=80, headless=True), {"app": "podinfo-primary"}, "app", CANARY
    )
    assert headless["spec"]["clusterIP"] == "None"


def test_apex_adoption_switches_selector_and_ports_but_not_foreign_metadata() -> None:
    names = service_names(_service(port=9898), "podinfo")
    desired = desired_service("apex", names, _service(port=9898), {"app": "podinfo-primary"}, "app", CANARY)
    user_service = {
        "metadata": {
            "name": "podinfo",
            "namespace": "default",
            "labels": {"mine": "yes"},
            "resourceVersion": "7",
        },
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.5",
            "selector": {"app": "podinfo"},
            "ports": [
                {"name": "http", "port": 9898, "targetPort": 9898, "protocol": "TCP", "nodePort": 30080}
            ],
        },
    }
    updated = reconcile_service(user_service, desired, "podinfo")
    assert updated is not None
    assert updated["spec"]["selector"] == {"app": "podinfo-primary"}
    assert updated["spec"]["ports"][0]["nodePort"] == 30080
    assert updated["spec"]["type"] == "NodePort" and updated["spec"]["clusterIP"] == "10.0.0.5"
    assert updated["metadata"]["labels"] == {"mine": "yes"}
    assert updated["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"
    assert reconcile_service(updated, desired, "podinfo") is None


def test_owned_service_metadata_is_enforced_except_unmanaged_keys() -> None:
    names = service_names(_service(port=9898), "podinfo")
    desired = desired_service("canary", names, _service(port=9898), {"app": "podinfo"}, "app", CANARY)
    live = {
        **desired,
        "metadata": {
            **desired["metadata"],
            "labels": {"app": "podinfo-canary", "manual": "x", "keep": "me"},
            "annotations": {**desired["metadata"]["annotations"], "keep-ann": "1", "drop-ann": "2"},
        },
    }
    unmanaged = UnmanagedMetadata(labels=("keep",), annotations=("keep-ann",))
    updated = reconcile_service(live, desired, "podinfo", unmanaged)
    assert updated is not None
    assert updated["metadata"]["labels"] == {"app": "podinfo-canary", "keep": "me"}
    assert "drop-ann" not in updated["metadata"]["annotations"]
    assert updated["metadata"]["annotations"]["keep-ann"] == "1"
    # Not owned by this Canary (another canary name): metadata is left alone.
    assert reconcile_service(live, desired, "someone-else") is None


# --- 1.6 primary HPA ----------------------------------------------------------------------------------


def _hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "podinfo",
            "namespace": "default",
            "labels": {"a": "b", "kustomize.toolkit.fluxcd.io/x": "y"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 99}},
                }
            ],
        },
    }


def test_primary_hpa() -> None:
    primary = build_primary_hpa(_hpa(), "podinfo", CANARY)
    assert primary["apiVersion"] == "autoscaling/v2"
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["metadata"]["labels"] == {"a": "b"}
    assert primary["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podinfo-primary",
    }
    assert (primary["spec"]["minReplicas"], primary["spec"]["maxReplicas"]) == (2, 4)
    overridden = build_primary_hpa(_hpa(), "podinfo", CANARY, {"minReplicas": 3, "maxReplicas": 9})
    assert (overridden["spec"]["minReplicas"], overridden["spec"]["maxReplicas"]) == (3, 9)


def test_primary_hpa_update_only_when_spec_fields_differ() -> None:
    desired = build_primary_hpa(_hpa(), "podinfo", CANARY)
    live = {
        **desired,
        "metadata": {**desired["metadata"], "resourceVersion": "3", "labels": {"changed": "1"}},
    }
    assert primary_hpa_update(live, desired) is None
    source = _hpa()
    source["spec"]["maxReplicas"] = 10
    update = primary_hpa_update(live, build_primary_hpa(source, "podinfo", CANARY))
    assert update is not None and update["spec"]["maxReplicas"] == 10
    assert update["metadata"]["resourceVersion"] == "3"
