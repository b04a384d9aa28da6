"""charts/flagman rendered by real helm: Flagger-compatible values, the controller flags, validity."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.settings import parse_settings
from tests.deploy.tooling import (
    CHART_CRD,
    CHARTS,
    CRD_SOURCE,
    container,
    find,
    helm,
    helm_template,
    helm_template_error,
    kinds,
    run,
    set_arguments,
    validate_objects,
)

TUTORIAL_INSTALL = {"prometheus.install": True, "meshProvider": "kubernetes"}
TUTORIAL_SLACK = {
    "slack.url": "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK",
    "slack.channel": "general",
    "slack.user": "flagger",
}

# Each value combination that changes what is rendered (issue 5's list).
COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "prometheus": TUTORIAL_INSTALL,
    "metrics-server": {"metricsServer": "http://prometheus.monitoring:9090"},
    "leader-election": {"leaderElection.enabled": True, "leaderElection.replicaCount": 2},
    "sharding": {
        "sharding.enabled": True,
        "replicaCount": 3,
        "sharding.shards": 12,
        "sharding.leaseDuration": "5s",
        "sharding.renewDeadline": "3s",
        "sharding.retryPeriod": "1s",
    },
    "service-monitor": {"serviceMonitor.enabled": True, "serviceMonitor.namespace": "monitoring"},
    "pod-monitor": {"podMonitor.enabled": True, "podMonitor.namespace": "monitoring"},
    "slack": {**TUTORIAL_INSTALL, **TUTORIAL_SLACK, "slack.proxy": "http://proxy.corp:3128"},
    "msteams": {"msteams.url": "https://teams.example/hook", "msteams.proxyUrl": "http://proxy.corp:3128"},
    "security-context-off": {
        "securityContext.enabled": False,
        "prometheus.install": True,
        "prometheus.securityContext.enabled": False,
    },
    "everything": {
        **TUTORIAL_INSTALL,
        "namespace": "test",
        "selectorLabels": "app,name",
        "includeLabelPrefix": "app.kubernetes.io",
        "configTracking.enabled": False,
        "eventWebhook": "http://events.sink:8080/",
        "clusterName": "prod-eu",
        "threadiness": 4,
        "kubeconfigQPS": 50,
        "kubeconfigBurst": 100,
        "noCrossNamespaceRefs": True,
        "podDisruptionBudget.enabled": True,
        "podPriorityClassName": "system-cluster-critical",
        "image.pullSecret": "registry",
        "podSecurityContext.fsGroup": 10001,
        "nodeSelector.kubernetes\\.io/os": "linux",
        "podLabels.team": "delivery",
        "deploymentLabels.tier": "platform",
    },
}


def controller(objects: list[dict[str, Any]], name: str = "flagger") -> dict[str, Any]:
    return container(find(objects, "Deployment", name), "flagger")


def flags(objects: list[dict[str, Any]]) -> list[str]:
    command: list[str] = controller(objects)["command"]
    assert command[0] == "./flagger"
    return command[1:]


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_helm_lint_passes(combination: str) -> None:
    completed = run(
        [helm(), "lint", "--strict", str(CHARTS / "flagman"), *set_arguments(COMBINATIONS[combination])]
    )
    assert "0 chart(s) failed" in completed.stdout


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(combination: str) -> None:
    validate_objects(helm_template("flagman", "flagger", "flagger", COMBINATIONS[combination]))


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_rendered_flags_are_accepted_by_the_controllers_own_parser(combination: str) -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS[combination])
    settings = parse_settings(flags(objects), {})
    assert settings.mesh_provider == "kubernetes"
    assert settings.log_level == "info"


def test_defaults() -> None:
    objects = helm_template("flagman", "flagger", "flagger")
    assert kinds(objects) == [
        ("ClusterRole", "flagger"),
        ("ClusterRoleBinding", "flagger"),
        ("Deployment", "flagger"),
        ("ServiceAccount", "flagger"),
    ]
    deployment = find(objects, "Deployment", "flagger")
    assert deployment["metadata"]["namespace"] == "flagger"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "flagger"
    assert flags(objects) == [
        "-log-level=info",
        "-mesh-provider=kubernetes",
        "-metrics-server=http://prometheus:9090",
        "-enable-config-tracking=true",
        "-slack-user=flagger",
    ]
    main = controller(objects)
    assert main["ports"] == [{"name": "http", "containerPort": 8080}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["runAsNonRoot"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}
    anti_affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti_affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "flagger",
        "app.kubernetes.io/instance": "flagger",
    }
    # Flagger's selector, so `helm upgrade` of a Flagger release to this chart updates it in place
    assert deployment["spec"]["selector"]["matchLabels"] == term["labelSelector"]["matchLabels"]
    binding = find(objects, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "flagger", "namespace": "flagger"}]


def test_the_tutorial_install_bundles_prometheus_as_flagger_prometheus() -> None:
    objects = helm_template("flagman", "flagger", "flagger", TUTORIAL_INSTALL)
    service = find(objects, "Service", "flagger-prometheus")
    assert service["spec"]["ports"][0]["port"] == 9090
    prometheus = find(objects, "Deployment", "flagger-prometheus")
    assert service["spec"]["selector"].items() <= prometheus["spec"]["template"]["metadata"]["labels"].items()
    assert "-metrics-server=http://flagger-prometheus:9090" in flags(objects)
    assert "-mesh-provider=kubernetes" in flags(objects)
    args = container(prometheus)["args"]
    assert "--storage.tsdb.retention.time=2h" in args
    assert find(objects, "ServiceAccount", "flagger-prometheus")
    role = find(objects, "ClusterRole", "flagger-prometheus")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_prometheus_is_named_after_any_release() -> None:
    objects = helm_template("flagman", "flagman", "ops", {"prometheus.install": True})
    assert find(objects, "Service", "flagman-prometheus")
    assert "-metrics-server=http://flagman-prometheus:9090" in controller(objects, "flagman")["command"]


def test_metrics_server_is_used_unless_prometheus_is_installed() -> None:
    objects = helm_template(
        "flagman", "flagger", "flagger", {"metricsServer": "http://prometheus.monitoring:9090"}
    )
    assert "-metrics-server=http://prometheus.monitoring:9090" in flags(objects)
    both = {"metricsServer": "http://prometheus.monitoring:9090", "prometheus.install": True}
    assert "-metrics-server=http://flagger-prometheus:9090" in flags(
        helm_template("flagman", "flagger", "f", both)
    )


def test_bundled_prometheus_relabeling_produces_the_labels_the_builtin_checks_filter_on() -> None:
    objects = helm_template("flagman", "flagger", "flagger", TUTORIAL_INSTALL)
    config = yaml.safe_load(find(objects, "ConfigMap", "flagger-prometheus")["data"]["prometheus.yml"])
    assert config["global"]["scrape_interval"] == "5s"
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "kubernetes-pods")
    steps = job["relabel_configs"]
    assert steps[0] == {
        "action": "keep",
        "regex": True,
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
    }
    targets = {step.get("target_label"): step for step in steps}
    assert targets["kubernetes_namespace"]["source_labels"] == ["__meta_kubernetes_namespace"]
    assert targets["kubernetes_pod_name"]["source_labels"] == ["__meta_kubernetes_pod_name"]
    assert targets["__address__"]["source_labels"][1] == "__meta_kubernetes_pod_annotation_prometheus_io_port"
    assert {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"} in steps


def bundled_prometheus(values: dict[str, Any]) -> tuple[str, str]:
    """The rendered config of the bundled Prometheus and its Deployment's `checksum/config` annotation."""
    objects = helm_template("flagman", "flagger", "flagger", values)
    config = find(objects, "ConfigMap", "flagger-prometheus")["data"]["prometheus.yml"]
    pod_annotations = find(objects, "Deployment", "flagger-prometheus")["spec"]["template"]["metadata"]
    return config, pod_annotations["annotations"]["checksum/config"]


def test_prometheus_scrape_interval_defaults_to_flaggers_5s_and_the_shipped_file() -> None:
    config, checksum = bundled_prometheus(TUTORIAL_INSTALL)
    shipped = (CHARTS / "flagman" / "files" / "prometheus.yml").read_text()
    assert yaml.safe_load(config)["global"]["scrape_interval"] == "5s"
    assert config == shipped.rstrip("\n")  # the default renders the file unchanged
    assert checksum == hashlib.sha256(shipped.encode()).hexdigest()


def test_prometheus_scrape_interval_sets_the_global_one_only() -> None:
    default_config, default_checksum = bundled_prometheus(TUTORIAL_INSTALL)
    config, checksum = bundled_prometheus({**TUTORIAL_INSTALL, "prometheus.scrapeInterval": "1s"})
    parsed = yaml.safe_load(config)
    assert parsed["global"]["scrape_interval"] == "1s"
    assert all("scrape_interval" not in job for job in parsed["scrape_configs"])
    assert parsed["scrape_configs"] == yaml.safe_load(default_config)["scrape_configs"]
    # the annotation follows the rendered config, so changing the value rolls the Prometheus pod
    assert checksum == hashlib.sha256(config.encode() + b"\n").hexdigest() != default_checksum


@pytest.mark.parametrize("interval", ["fast", "5", "1s;", "-1s"])
def test_prometheus_scrape_interval_that_is_no_duration_is_refused(interval: str) -> None:
    error = helm_template_error("flagman", {**TUTORIAL_INSTALL, "prometheus.scrapeInterval": interval})
    assert f'prometheus.scrapeInterval "{interval}" is not a Prometheus duration' in error


def test_leader_election_sets_replicas_and_flags() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["leader-election"])
    deployment = find(objects, "Deployment", "flagger")
    assert deployment["spec"]["replicas"] == 2
    assert "strategy" not in deployment["spec"]
    assert flags(objects)[-2:] == ["-enable-leader-election=true", "-leader-election-namespace=flagger"]


def test_several_replicas_without_leader_election_is_refused() -> None:
    error = helm_template_error("flagman", {"leaderElection.replicaCount": 2})
    assert "leaderElection.replicaCount > 1 needs leaderElection.enabled=true" in error


def test_sharding_runs_every_replica_with_its_flags_a_pdb_and_lease_deletion() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["sharding"])
    deployment = find(objects, "Deployment", "flagger")
    assert deployment["spec"]["replicas"] == 3
    assert "strategy" not in deployment["spec"]  # a rolling update: the replicas hand their shards over
    assert flags(objects)[-6:] == [
        "-enable-sharding=true",
        "-leader-election-namespace=flagger",
        "-shards=12",
        "-shard-lease-duration=5s",
        "-shard-renew-deadline=3s",
        "-shard-retry-period=1s",
    ]
    pdb = find(objects, "PodDisruptionBudget", "flagger")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    rules = find(objects, "ClusterRole", "flagger")["rules"]
    assert any("delete" in rule["verbs"] for rule in rules if rule["resources"] == ["leases"])


def test_without_sharding_no_pdb_is_added() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["leader-election"])
    assert not [item for item in objects if item["kind"] == "PodDisruptionBudget"]


def test_sharding_with_leader_election_or_replicas_without_either_are_refused() -> None:
    error = helm_template_error("flagman", {"sharding.enabled": True, "leaderElection.enabled": True})
    assert "sharding.enabled and leaderElection.enabled exclude each other" in error
    error = helm_template_error("flagman", {"replicaCount": 3})
    assert "or sharding.enabled=true (each acts on its own shards)" in error


@pytest.mark.parametrize("provider", ["istio", "linkerd", "gatewayapi:v1"])
def test_mesh_providers_other_than_kubernetes_are_refused_with_the_reason(provider: str) -> None:
    error = helm_template_error("flagman", {"meshProvider": provider})
    assert f'meshProvider "{provider}" is not supported' in error


def test_service_monitor_honours_its_namespace() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["service-monitor"])
    monitor = find(objects, "ServiceMonitor", "flagger")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["flagger"]}
    service = find(objects, "Service", "flagger")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert (
        service["spec"]["selector"].items()
        <= find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pod_monitor() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["pod-monitor"])
    monitor = find(objects, "PodMonitor", "flagger")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"path": "/metrics", "port": "http", "interval": "15s", "honorLabels": False}
    ]


def test_the_tutorials_slack_values_become_flags_and_slack_proxy_is_honoured() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["slack"])
    rendered = flags(objects)
    assert "-slack-url=https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK" in rendered
    assert "-slack-channel=general" in rendered
    assert "-slack-user=flagger" in rendered
    assert "-slack-proxy-url=http://proxy.corp:3128" in rendered
    with_proxy_url = {**TUTORIAL_SLACK, "slack.proxy": "http://a:1", "slack.proxyUrl": "http://b:2"}
    assert "-slack-proxy-url=http://b:2" in flags(helm_template("flagman", "flagger", "f", with_proxy_url))


def test_msteams_flags() -> None:
    rendered = flags(helm_template("flagman", "flagger", "flagger", COMBINATIONS["msteams"]))
    assert "-msteams-url=https://teams.example/hook" in rendered
    assert "-msteams-proxy-url=http://proxy.corp:3128" in rendered


def test_security_context_can_be_turned_off() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["security-context-off"])
    assert "securityContext" not in controller(objects)
    assert "securityContext" not in container(find(objects, "Deployment", "flagger-prometheus"))


def test_every_optional_value_is_rendered() -> None:
    objects = helm_template("flagman", "flagger", "flagger", COMBINATIONS["everything"])
    assert flags(objects) == [
        "-log-level=info",
        "-mesh-provider=kubernetes",
        "-metrics-server=http://flagger-prometheus:9090",
        "-selector-labels=app,name",
        "-enable-config-tracking=false",
        "-namespace=test",
        "-slack-user=flagger",
        "-include-label-prefix=app.kubernetes.io",
        "-event-webhook=http://events.sink:8080/",
        "-kubeconfig-qps=50",
        "-kubeconfig-burst=100",
        "-threadiness=4",
        "-cluster-name=prod-eu",
        "-no-cross-namespace-refs=true",
    ]
    deployment = find(objects, "Deployment", "flagger")
    pod = deployment["spec"]["template"]
    assert deployment["metadata"]["labels"]["tier"] == "platform"
    assert pod["metadata"]["labels"]["team"] == "delivery"
    assert pod["spec"]["priorityClassName"] == "system-cluster-critical"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "fsGroup": 10001,
    }
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    pdb = find(objects, "PodDisruptionBudget", "flagger")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_values_file_with_env_volumes_and_tolerations(tmp_path: Path) -> None:
    values = {
        "env": [{"name": "SLACK_URL", "valueFrom": {"secretKeyRef": {"name": "slack", "key": "url"}}}],
        "additionalVolumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
        "additionalVolumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "serviceAccount": {"create": False, "name": "existing"},
        "rbac": {"create": False},
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    rendered = run(
        [helm(), "template", "flagger", str(CHARTS / "flagman"), "-n", "flagger", "-f", str(values_file)]
    )
    objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    validate_objects(objects)
    assert kinds(objects) == [("Deployment", "flagger")]
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "existing"
    assert pod["tolerations"] == values["tolerations"]
    assert {"name": "cache", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    main = pod["containers"][0]
    assert main["env"] == values["env"]
    assert {"name": "cache", "mountPath": "/cache"} in main["volumeMounts"]


# --- CRDs: one source file, copied into the chart ------------------------------------------------


def crd_source_or_skip() -> bytes:
    if not CRD_SOURCE.is_file():
        pytest.skip(
            f"{CRD_SOURCE.relative_to(CRD_SOURCE.parents[3])} does not exist yet (helper controller-core)"
        )
    return CRD_SOURCE.read_bytes()


def test_chart_crds_are_byte_identical_to_the_single_source() -> None:
    source = crd_source_or_skip()
    assert CHART_CRD.is_file(), "charts/flagman/crds/crd.yaml is missing: run `make crds`"
    assert CHART_CRD.read_bytes() == source, "charts/flagman/crds/crd.yaml is stale: run `make crds`"


def test_chart_installs_the_three_flagger_crds_and_they_validate_as_crds() -> None:
    crd_source_or_skip()
    objects = helm_template("flagman", "flagger", "flagger", include_crds=True)
    crds = [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]
    assert sorted(crd["metadata"]["name"] for crd in crds) == [
        "alertproviders.flagger.app",
        "canaries.flagger.app",
        "metrictemplates.flagger.app",
    ]
    for crd in crds:
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["spec"]["group"] == "flagger.app"
        assert [version["name"] for version in crd["spec"]["versions"]] == ["v1beta1"]
    validate_objects(crds)


def test_make_crds_copies_the_source(tmp_path: Path) -> None:
    crd_source_or_skip()
    completed = subprocess.run(
        ["make", "-s", "-n", "crds"], cwd=CHARTS.parent, capture_output=True, text=True, check=True
    )
    assert "kustomize/base/flagman/crd.yaml" in completed.stdout
    assert "charts/flagman/crds/crd.yaml" in completed.stdout


FLAGGER_VALUE_KEYS = [
    "image.repository",
    "image.tag",
    "image.pullPolicy",
    "image.pullSecret",
    "logLevel",
    "podAnnotations",
    "podPriorityClassName",
    "metricsServer",
    "meshProvider",
    "namespace",
    "selectorLabels",
    "configTracking.enabled",
    "includeLabelPrefix",
    "eventWebhook",
    "clusterName",
    "slack.user",
    "slack.channel",
    "slack.url",
    "slack.proxyUrl",
    "slack.proxy",
    "msteams.url",
    "msteams.proxyUrl",
    "serviceMonitor.enabled",
    "serviceMonitor.honorLabels",
    "serviceMonitor.namespace",
    "serviceMonitor.labels",
    "podMonitor.enabled",
    "podMonitor.namespace",
    "podMonitor.interval",
    "podMonitor.additionalLabels",
    "podMonitor.honorLabels",
    "env",
    "leaderElection.enabled",
    "leaderElection.replicaCount",
    "serviceAccount.create",
    "serviceAccount.name",
    "serviceAccount.annotations",
    "rbac.create",
    "prometheus.install",
    "prometheus.image",
    "prometheus.pullSecret",
    "prometheus.retention",
    "prometheus.securityContext.enabled",
    "prometheus.securityContext.context",
    "resources",
    "securityContext.enabled",
    "securityContext.context",
    "nodeSelector",
    "tolerations",
    "affinity",
    "podDisruptionBudget.enabled",
    "podDisruptionBudget.minAvailable",
    "podLabels",
    "deploymentLabels",
    "additionalVolumes",
    "additionalVolumeMounts",
    "noCrossNamespaceRefs",
    "threadiness",
    "kubeconfigQPS",
    "kubeconfigBurst",
    "nameOverride",
    "fullnameOverride",
]


@pytest.mark.parametrize("key", FLAGGER_VALUE_KEYS)
def test_values_declare_flaggers_keys(key: str) -> None:
    node: Any = yaml.safe_load((CHARTS / "flagman" / "values.yaml").read_text())
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"values.yaml lacks {key}"
        node = node[part]
