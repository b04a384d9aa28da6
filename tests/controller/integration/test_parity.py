"""Flagger parity scenarios with the real controller process on the sandbox API server: revertOnDeletion
(Flagger's test/kubernetes assertions: the finalizer appears, and after `kubectl delete canary` the target
runs again), the opt-out, and -no-cross-namespace-refs."""

from __future__ import annotations

from typing import Any

from controller.errors import NotFoundError
from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, SCALED_OBJECTS, SECRETS, SERVICES
from controller.kube.scaledobjects import PAUSED_REPLICAS_ANNOTATION
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import deploy_podinfo, set_image, tutorial_webhooks
from tests.controller.kube import objects
from tests.controller.kube.keda import install_keda_crd, podinfo_scaled_object
from tests.controller.kube.support import eventually

FINALIZER = "finalizer.flagger.app"


def _canary(bench: Bench, **spec: Any) -> dict[str, Any]:
    body = objects.tutorial_canary(interval="200ms", webhooks=tutorial_webhooks(bench))
    body["spec"].update(spec)
    return body


async def _user_apex_service(bench: Bench) -> None:
    """The app's own Service `podinfo` (as `kubectl apply` leaves it): the Canary adopts it."""
    await bench.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "podinfo"},
            "spec": {
                "selector": {"app": "podinfo"},
                "ports": [{"name": "http", "port": 9898, "targetPort": 9898}],
            },
        },
    )


async def _finalizers(bench: Bench) -> list[str]:
    return list((await bench.canary())["metadata"].get("finalizers") or [])


async def _replicas(bench: Bench, name: str = "podinfo") -> int:
    return int((await bench.api.get(DEPLOYMENTS, bench.ns, name))["spec"].get("replicas") or 0)


async def test_revert_on_deletion_restores_the_target_and_the_adopted_apex(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await _user_apex_service(bench)
    await bench.create(CANARIES, _canary(bench, revertOnDeletion=True))
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await eventually(lambda: _has_finalizer(bench), within=30, what="the finalizer")
    assert await _replicas(bench) == 0
    apex = await bench.api.get(SERVICES, bench.ns, "podinfo")
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}

    await bench.api.request("DELETE", CANARIES.path(bench.ns, "podinfo"))

    async def gone() -> bool:
        try:
            await bench.canary()
        except NotFoundError:
            return True
        return False

    await eventually(gone, within=60, interval=0.1, what="the Canary to be deleted")
    assert await _replicas(bench) == 2  # the primary's replicas
    apex = await bench.api.get(SERVICES, bench.ns, "podinfo")
    assert apex["spec"]["selector"] == {"app": "podinfo"}
    messages = await bench.messages()
    assert messages.index(f"Terminating canary podinfo.{bench.ns}") < messages.index(
        f"Terminated canary podinfo.{bench.ns}"
    )


async def _has_finalizer(bench: Bench) -> bool:
    return FINALIZER in await _finalizers(bench)


async def test_finalizer_follows_the_field_and_is_absent_by_default(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await bench.create(CANARIES, _canary(bench))
    bench.controller.start()
    await bench.wait_phase("Initialized")
    assert await _finalizers(bench) == []
    await bench.api.merge_patch(CANARIES, bench.ns, "podinfo", {"spec": {"revertOnDeletion": True}})
    await eventually(lambda: _has_finalizer(bench), within=30, what="the finalizer")

    async def removed() -> bool:
        return not await _has_finalizer(bench)

    await bench.api.merge_patch(CANARIES, bench.ns, "podinfo", {"spec": {"revertOnDeletion": False}})
    await eventually(removed, within=30, what="the finalizer to go")


async def test_cross_namespace_template_is_refused_with_an_event(bench: Bench) -> None:
    await deploy_podinfo(bench)
    body = _canary(bench)
    body["spec"]["analysis"]["metrics"].append(
        {"name": "latency", "templateRef": {"name": "latency", "namespace": "istio-system"}, "interval": "1m"}
    )
    await bench.create(CANARIES, body)
    bench.controller.extra_args.append("-no-cross-namespace-refs")
    bench.controller.start()
    await bench.wait_message(
        "invalid canary spec: can't access metric template latency.istio-system, "
        "cross-namespace references are blocked"
    )
    try:
        await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    except NotFoundError:
        return
    raise AssertionError("a primary was created for a refused Canary")


async def test_keda_scaled_object_is_mirrored_for_the_primary_and_paused_while_the_canary_is_idle(
    bench: Bench,
) -> None:
    await install_keda_crd(bench.api)
    await bench.create(CONFIGMAPS, objects.podinfo_config())
    await bench.create(SECRETS, objects.podinfo_secret())
    await bench.create(DEPLOYMENTS, objects.podinfo(replicas=None))
    await bench.create(SCALED_OBJECTS, podinfo_scaled_object(min_replicas=2))
    body = _canary(bench)
    body["spec"]["autoscalerRef"] = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "name": "podinfo",
    }
    await bench.create(CANARIES, body)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    primary = await bench.api.get(SCALED_OBJECTS, bench.ns, "podinfo-primary")
    assert primary["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert await _paused(bench) == "0" and await _replicas(bench) == 0

    paused_while_progressing: list[str | None] = []

    async def progressing() -> bool:
        if await bench.phase() == "Progressing":
            paused_while_progressing.append(await _paused(bench))
            return True
        return False

    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await eventually(progressing, within=60, interval=0.05, what="Progressing")
    assert paused_while_progressing == [None]  # resumed: KEDA scales the canary during the analysis
    await bench.wait_phase("Succeeded")
    assert await _paused(bench) == "0" and await _replicas(bench) == 0


async def _paused(bench: Bench) -> str | None:
    so = await bench.api.get(SCALED_OBJECTS, bench.ns, "podinfo")
    return (so["metadata"].get("annotations") or {}).get(PAUSED_REPLICAS_ANNOTATION)
