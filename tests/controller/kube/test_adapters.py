"""The Kubernetes adapters of the rollout ports, against the sandbox API server over loopback HTTP."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import pytest

from controller.api import Canary, CanaryRef, CanaryStatus, Phase
from controller.errors import KubeError, NotFoundError, TargetError
from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, EVENTS, HPAS, SECRETS, SERVICES, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.recorder import KubeRecorder
from controller.kube.router import KubeRouter
from controller.kube.sources import CachedSecrets, CachedTemplates
from controller.kube.status import KubeStatusStore
from controller.kube.watchcache import WatchCache
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from controller.rollout.ports import Event, Role
from sandbox.apiserver.testing import ApiServer, run_kubectl_args
from tests.controller.kube import objects
from tests.controller.kube.support import eventually


async def _seed(api: KubeApi, *, hpa: bool = True) -> Canary:
    await api.create(CONFIGMAPS, "test", objects.podinfo_config())
    await api.create(SECRETS, "test", objects.podinfo_secret())
    await api.create(DEPLOYMENTS, "test", objects.podinfo())
    if hpa:
        await api.create(HPAS, "test", objects.podinfo_hpa())
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    return Canary.from_dict(body)


async def _cached(cache: WatchCache, name: str, namespace: str = "test") -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return cache.get(namespace, name)

    return await eventually(probe, what=f"{cache.resource.plural}/{name} in the cache")


# --- watch cache --------------------------------------------------------------------------------------


async def test_watch_cache_follows_changes_and_relists_after_410(api: KubeApi, apiserver: ApiServer) -> None:
    cache = WatchCache(api, CONFIGMAPS, "test", watch_timeout_seconds=5)
    await api.create(CONFIGMAPS, "test", objects.podinfo_config("blue"))
    await cache.start()
    try:
        assert (cache.get("test", "podinfo-config") or {}).get("data") == {"color": "blue"}
        await api.merge_patch(CONFIGMAPS, "test", "podinfo-config", {"data": {"color": "green"}})

        async def green() -> bool:
            return (cache.get("test", "podinfo-config") or {}).get("data") == {"color": "green"}

        await eventually(green, what="the MODIFIED event")
        # A large object is one long watch line (aiohttp's default line limit is 128 KiB).
        big = "x" * (600 * 1024)
        await api.merge_patch(CONFIGMAPS, "test", "podinfo-config", {"data": {"big": big}})

        async def big_seen() -> bool:
            return bool((cache.get("test", "podinfo-config") or {}).get("data", {}).get("big") == big)

        await eventually(big_seen, what="a 600 KiB object through the watch")
        relists = cache.relists
        # Cut the stream and answer the reconnect with 410 Gone: the cache must list again.
        apiserver.faults.fail("watch", "configmaps", 410)
        apiserver.faults.drop_watches("configmaps")
        await api.request("DELETE", CONFIGMAPS.path("test", "podinfo-config"))

        async def relisted_and_gone() -> bool:
            return cache.relists > relists and cache.get("test", "podinfo-config") is None

        await eventually(relisted_and_gone, what="a relist after 410")
        assert cache.liveness_problem() is None
    finally:
        await cache.stop()
    assert cache.liveness_problem() == "watch of configmaps is not running"


# --- workloads ------------------------------------------------------------------------------------------


async def test_workloads_bootstrap_scale_and_promote(api: KubeApi, cluster: Cluster) -> None:
    canary = await _seed(api)
    await _cached(cluster.deployments, "podinfo")
    assert await cluster.secrets.fetch("test", "podinfo-secret") is not None  # kept from now on
    await _cached(cluster.autoscalers, "podinfo")
    workloads = KubeWorkloads(cluster, WorkloadOptions())

    target = await workloads.discover(canary)
    assert (target.label, target.value) == ("app", "podinfo")
    assert {(p.name, p.port, p.protocol) for p in target.ports} == {
        ("http-metrics", 9797, "TCP"),
        ("grpc", 9999, "TCP"),
    }
    revision = await workloads.revision(canary)
    assert set(revision.tracked_configs) == {"configmap/podinfo-config", "secret/podinfo-secret"}

    await workloads.ensure_primary(canary, target)
    primary = await api.get(DEPLOYMENTS, "test", "podinfo-primary")
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["metadata"]["ownerReferences"][0]["uid"] == canary.ref.uid
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config-primary"
    assert container["envFrom"][0]["secretRef"]["name"] == "podinfo-secret-primary"
    copy = await api.get(CONFIGMAPS, "test", "podinfo-config-primary")
    assert copy["data"] == {"color": "blue"}
    assert (await api.get(SECRETS, "test", "podinfo-secret-primary"))["type"] == "Opaque"
    # A second call does nothing: the primary is only created when absent.
    sent = api.requests_sent
    await workloads.ensure_primary(canary, target)
    assert api.requests_sent == sent

    await workloads.ensure_primary_autoscaler(canary, target, update=False)
    primary_hpa = await api.get(HPAS, "test", "podinfo-primary")
    assert primary_hpa["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert primary_hpa["spec"]["minReplicas"] == 2

    state = await workloads.deployment(canary, Role.PRIMARY)
    assert state.name == "podinfo-primary"
    await workloads.scale_to_zero(canary)
    assert (await api.get(DEPLOYMENTS, "test", "podinfo"))["spec"]["replicas"] == 0
    await workloads.scale_from_zero(canary)  # target 0, HPA min 2 -> 2
    assert (await api.get(DEPLOYMENTS, "test", "podinfo"))["spec"]["replicas"] == 2

    # New revision: image and config change, then promotion copies both.
    await api.merge_patch(CONFIGMAPS, "test", "podinfo-config", {"data": {"color": "green"}})
    changed = objects.podinfo(image="stefanprodan/podinfo:3.1.1")["spec"]["template"]
    await api.merge_patch(DEPLOYMENTS, "test", "podinfo", {"spec": {"template": changed}})

    async def new_revision() -> bool:
        current = await workloads.revision(canary)
        return current.spec_hash != revision.spec_hash and current.tracked_configs != revision.tracked_configs

    await eventually(new_revision, what="the new revision in the caches")
    old_id = primary["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    await workloads.promote(canary, target)
    promoted = await api.get(DEPLOYMENTS, "test", "podinfo-primary")
    assert promoted["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.1"
    assert promoted["spec"]["template"]["metadata"]["annotations"]["flagger-id"] != old_id  # config changed
    assert (await api.get(CONFIGMAPS, "test", "podinfo-config-primary"))["data"] == {"color": "green"}
    # Promoting the same revision again writes nothing.
    await _cached(cluster.deployments, "podinfo-primary")
    await asyncio.sleep(0.2)
    sent = api.requests_sent
    await workloads.promote(canary, target)
    assert api.requests_sent == sent

    # HPA update on promotion.
    await api.merge_patch(HPAS, "test", "podinfo", {"spec": {"maxReplicas": 6}})

    async def hpa_updated() -> bool:
        await workloads.ensure_primary_autoscaler(canary, target, update=True)
        return bool((await api.get(HPAS, "test", "podinfo-primary"))["spec"]["maxReplicas"] == 6)

    await eventually(hpa_updated, what="the primary HPA update")


async def test_workloads_errors_use_flaggers_words(api: KubeApi, cluster: Cluster) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary(target="missing"))
    canary = Canary.from_dict(body)
    workloads = KubeWorkloads(cluster, WorkloadOptions())
    with pytest.raises(
        TargetError, match=r'deployment missing.test get query error: deployments.apps "missing" not found'
    ):
        await workloads.discover(canary)
    with pytest.raises(NotFoundError, match=r"deployment missing-primary\.test get query error"):
        await workloads.deployment(canary, Role.PRIMARY)
    deployment = objects.podinfo()
    deployment["metadata"]["name"] = "missing"
    await api.create(DEPLOYMENTS, "test", deployment)  # references a ConfigMap that does not exist
    await _cached(cluster.deployments, "missing")
    with pytest.raises(
        KubeError,
        match=r'configmap podinfo-config.test get query error: configmaps "podinfo-config" not found',
    ):
        await workloads.revision(canary)
    target = await workloads.discover(canary)
    with pytest.raises(KubeError, match=r"HorizontalPodAutoscaler missing.test get query error"):
        await workloads.ensure_primary_autoscaler(canary, target, update=False)


async def test_config_tracking_disabled_keeps_original_names(api: KubeApi, cluster: Cluster) -> None:
    canary = await _seed(api, hpa=False)
    await _cached(cluster.deployments, "podinfo")
    workloads = KubeWorkloads(cluster, WorkloadOptions(enable_config_tracking=False))
    target = await workloads.discover(canary)
    assert (await workloads.revision(canary)).tracked_configs == {}
    await workloads.ensure_primary(canary, target)
    primary = await api.get(DEPLOYMENTS, "test", "podinfo-primary")
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config"
    with pytest.raises(NotFoundError):
        await api.get(CONFIGMAPS, "test", "podinfo-config-primary")


# --- router ---------------------------------------------------------------------------------------------


async def test_router_creates_services_adopts_the_apex_and_switches_it(
    api: KubeApi, cluster: Cluster
) -> None:
    canary = await _seed(api)
    user_apex = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"owner": "user"}},
        "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": 9898}]},
    }
    await api.create(SERVICES, "test", user_apex)
    await _cached(cluster.deployments, "podinfo")
    await _cached(cluster.services, "podinfo")
    target = await KubeWorkloads(cluster, WorkloadOptions()).discover(canary)
    router = KubeRouter(cluster)
    await router.initialize(canary, target)
    canary_svc = await api.get(SERVICES, "test", "podinfo-canary")
    primary_svc = await api.get(SERVICES, "test", "podinfo-primary")
    assert canary_svc["spec"]["selector"] == {"app": "podinfo"}
    assert primary_svc["spec"]["selector"] == {"app": "podinfo-primary"}
    assert {(p["name"], p["port"]) for p in canary_svc["spec"]["ports"]} == {
        ("http", 9898),
        ("http-metrics", 9797),
        ("grpc", 9999),
    }
    assert canary_svc["metadata"]["labels"] == {"app": "podinfo-canary"}
    assert canary_svc["metadata"]["annotations"]["helm.toolkit.fluxcd.io/driftDetection"] == "disabled"

    await router.reconcile(canary, target, apex_selects=Role.PRIMARY)
    apex = await api.get(SERVICES, "test", "podinfo")
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert apex["metadata"]["labels"] == {"owner": "user"}  # not ours: metadata left alone
    assert apex["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"

    await router.reconcile(canary, target, apex_selects=Role.CANARY)  # after a failed promotion
    assert (await api.get(SERVICES, "test", "podinfo"))["spec"]["selector"] == {"app": "podinfo"}

    # Steady state: nothing to write.
    await _cached(cluster.services, "podinfo-canary")
    await asyncio.sleep(0.2)
    sent = api.requests_sent
    await router.initialize(canary, target)
    assert api.requests_sent == sent


# --- recorder and status --------------------------------------------------------------------------------


async def test_events_are_core_events_and_kubectl_describe_shows_them(
    api: KubeApi, apiserver: ApiServer
) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = Canary.from_dict(body)
    sent: list[tuple[str, str, str]] = []

    async def sender(canary: Canary, hook: Any, phase: str, event_type: str, message: str) -> None:
        sent.append((hook.url, event_type, message))

    recorder = KubeRecorder(api, event_sender=sender, global_event_webhook="http://127.0.0.1:1/events")
    await recorder.event(canary, Event.normal("New revision detected! Scaling up podinfo.test"))
    await recorder.event(canary, Event.warning("Halt podinfo.test advancement success rate 69.17% < 99%"))
    await recorder.event(
        CanaryRef(name="podinfo", namespace="test", uid=canary.ref.uid), Event.warning("x" * 2000)
    )
    waiting = "canary deployment podinfo.test not ready: waiting for rollout to finish: 0 of 2"
    for _ in range(3):  # repeated every tick: one Event whose series counts 3
        await recorder.event(canary, Event.warning(waiting))
    await recorder.flush()
    await recorder.close()
    # Every event reaches the event webhook, repeats included (only the Kubernetes object aggregates).
    assert sent == [
        ("http://127.0.0.1:1/events", "Normal", "New revision detected! Scaling up podinfo.test"),
        ("http://127.0.0.1:1/events", "Warning", "Halt podinfo.test advancement success rate 69.17% < 99%"),
        *[("http://127.0.0.1:1/events", "Warning", waiting)] * 3,
    ]
    core = await api.request("GET", "/api/v1/namespaces/test/events")
    messages = [(item["type"], item["reason"], item["message"]) for item in core["items"]]
    assert ("Normal", "Synced", "New revision detected! Scaling up podinfo.test") in messages
    repeated = [item for item in core["items"] if item["message"] == waiting]
    assert len(repeated) == 1 and repeated[0]["series"]["count"] == 3, repeated
    assert all(len(message.encode()) <= 1024 for _, _, message in messages)
    assert core["items"][0]["involvedObject"]["kind"] == "Canary"
    described = await asyncio.to_thread(
        subprocess.run,
        ["kubectl", *run_kubectl_args(apiserver, "-n", "test", "describe", "canary/podinfo")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**apiserver.kubectl_env(), "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert described.returncode == 0, described.stderr
    assert "Halt podinfo.test advancement success rate 69.17% < 99%" in described.stdout
    assert "flagger" in described.stdout
    assert "x3 over" in described.stdout or "(x3" in described.stdout, described.stdout


async def test_status_write_goes_through_the_subresource_and_retries_conflicts(
    api: KubeApi, cluster: Cluster, apiserver: ApiServer
) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    ref = CanaryRef.from_body(body)
    store = KubeStatusStore(cluster)
    await _cached(cluster.canaries, "podinfo")
    status = CanaryStatus(
        phase=Phase.PROGRESSING,
        failed_checks=1,
        iterations=3,
        last_applied_spec="fm1-abc",
        last_transition_time="2026-11-26T15:00:00Z",
    )
    apiserver.faults.fail("patch", "canaries", 409, times=2)
    await store.write(ref, status)
    stored = await api.get(CANARIES, "test", "podinfo")
    assert stored["status"]["phase"] == "Progressing"
    assert stored["status"]["iterations"] == 3
    assert (await store.get(ref))["status"]["iterations"] == 3  # the cache saw its own write
    statuses = [
        (r.verb, r.resource, r.status)
        for r in apiserver.request_log
        if r.method == "PATCH" and r.path.endswith("/canaries/podinfo/status")
    ]
    assert [status for _, _, status in statuses] == [409, 409, 200], statuses
    # A later write sends only what changed, and removes what the new status leaves out.
    await store.write(ref, CanaryStatus(phase=Phase.PROGRESSING, failed_checks=1, iterations=4))
    stored = await api.get(CANARIES, "test", "podinfo")
    assert stored["status"]["iterations"] == 4
    assert stored["status"].get("lastAppliedSpec", "") == ""
    assert "lastTransitionTime" not in stored["status"]  # unset: the empty timestamp is left out
    # Spec edits through the status subresource are ignored by the API server.
    with pytest.raises(NotFoundError):
        await store.get(CanaryRef(name="absent", namespace="test"))


async def test_sources_read_templates_and_secrets(api: KubeApi, cluster: Cluster) -> None:
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "not-found-percentage", "namespace": "test"},
        "spec": {
            "provider": {"type": "prometheus", "address": "http://127.0.0.1:9090"},
            "query": "vector(1)",
        },
    }
    await api.create(
        Resource := CANARIES.__class__("flagger.app/v1beta1", "metrictemplates", "MetricTemplate"),
        "test",
        template,
    )
    await api.create(SECRETS, "test", objects.podinfo_secret("t0ken"))
    templates = CachedTemplates(api, cluster.metric_templates)
    secrets = CachedSecrets(api, cluster.secrets)
    parsed = await templates.get_template("test", "not-found-percentage")
    assert parsed.query == "vector(1)"
    assert await secrets.get_secret("test", "podinfo-secret") == {"TOKEN": "t0ken"}
    with pytest.raises(NotFoundError, match='"nope" not found'):
        await templates.get_template("test", "nope")
    assert Resource.plural == "metrictemplates"
    assert EVENTS.plural == "events"


async def test_events_fall_back_to_core_v1_when_events_k8s_io_is_forbidden(
    api: KubeApi, apiserver: ApiServer
) -> None:
    """Flagger's own chart grants only core/v1 events: with it, the recorder must keep recording."""
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = Canary.from_dict(body)
    recorder = KubeRecorder(api)
    apiserver.faults.fail("create", "events", 403, times=1, message="events.events.k8s.io is forbidden")
    for _ in range(2):
        await recorder.event(canary, Event.warning("Halt podinfo.test advancement success rate 61.39% < 99%"))
    await recorder.event(canary, Event.normal("Promotion completed! Scaling down podinfo.test"))
    await recorder.close()
    posts = [(r.path, r.status) for r in apiserver.request_log if r.method == "POST" and "/events" in r.path]
    assert posts == [
        ("/apis/events.k8s.io/v1/namespaces/test/events", 403),
        ("/api/v1/namespaces/test/events", 201),
        ("/api/v1/namespaces/test/events", 201),
    ]
    core = await api.request("GET", "/api/v1/namespaces/test/events")
    by_message = {item["message"]: item for item in core["items"]}
    halt = by_message["Halt podinfo.test advancement success rate 61.39% < 99%"]
    assert (halt["count"], halt["source"], halt["involvedObject"]["uid"]) == (
        2,
        {"component": "flagger"},
        canary.ref.uid,
    )
    assert by_message["Promotion completed! Scaling down podinfo.test"]["type"] == "Normal"
