"""Objects of the integration scenarios: the tutorial's, with loopback URLs and sub-second intervals."""

from __future__ import annotations

from typing import Any

from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, HPAS, SECRETS
from tests.controller.integration.conftest import Bench
from tests.controller.kube import objects

INTERVAL = "200ms"


def tutorial_webhooks(bench: Bench) -> list[dict[str, Any]]:
    app = bench.prometheus.url  # the stub also stands in for podinfo (`/`, `POST /token`)
    return [
        {
            "name": "smoke-test",
            "type": "pre-rollout",
            "url": bench.loadtester,
            "timeout": "15s",
            "metadata": {"type": "bash", "cmd": f"curl -sd 'anon' {app}/token | grep token"},
        },
        {
            "name": "load-test",
            "url": bench.loadtester,
            "timeout": "5s",
            "metadata": {"type": "cmd", "cmd": f"hey -z 1s -q 10 -c 2 {app}/"},
        },
    ]


async def deploy_podinfo(bench: Bench, *, name: str = "podinfo") -> None:
    """The tutorial's `kubectl apply -k kustomize/podinfo`: Deployment + HPA (+ the config it mounts)."""
    deployment = objects.podinfo(replicas=2)
    hpa = objects.podinfo_hpa()
    if name != "podinfo":
        deployment["metadata"]["name"] = name
        deployment["spec"]["selector"]["matchLabels"]["app"] = name
        deployment["spec"]["template"]["metadata"]["labels"]["app"] = name
        hpa["metadata"]["name"] = name
        hpa["spec"]["scaleTargetRef"]["name"] = name
    else:
        await bench.create(CONFIGMAPS, objects.podinfo_config())
        await bench.create(SECRETS, objects.podinfo_secret())
    await bench.create(DEPLOYMENTS, deployment)
    await bench.create(HPAS, hpa)


async def apply_canary(
    bench: Bench, *, name: str = "podinfo", target: str = "podinfo", interval: str = INTERVAL, **changes: Any
) -> None:
    canary = objects.tutorial_canary(
        interval=interval, name=name, target=target, webhooks=tutorial_webhooks(bench), **changes
    )
    await bench.create(CANARIES, canary)


async def set_image(bench: Bench, image: str, name: str = "podinfo") -> None:
    """`kubectl set image deployment/podinfo podinfod=<image>` (a strategic merge patch)."""
    await bench.api.request(
        "PATCH",
        DEPLOYMENTS.path(bench.ns, name),
        body={"spec": {"template": {"spec": {"containers": [{"name": "podinfod", "image": image}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
