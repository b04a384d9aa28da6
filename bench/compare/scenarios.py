"""The stories both controllers are put through, one Canary (and one Deployment of the same name) each.

A scenario only acts on the cluster and waits for what any Flagger-compatible controller must show (a phase,
an event); what the controller writes on the way is recorded by `Trace` and compared afterwards. Analysis
interval 10 s (Flagger's minimum), 2 iterations, threshold 2: a promotion takes about seven ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.compare.stand_ins import TargetPrometheus
from bench.compare.trace import Trace
from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, HPAS, SECRETS, KubeApi
from tests.controller.kube import objects

INTERVAL = "10s"
ITERATIONS = 2


@dataclass
class Stage:
    """One controller's namespace and the shared stand-ins, with the steps scenarios are made of."""

    api: KubeApi
    namespace: str
    trace: Trace
    prometheus: TargetPrometheus
    hooks: str  # the webhook recorder, in front of the load tester
    loadtester: str

    # -- objects --
    async def deploy(self, name: str, *, hpa: bool = False, configs: bool = False) -> None:
        """The tutorial's podinfo Deployment named `name` (label app=name); its HPA and tracked configs."""
        deployment = objects.podinfo(replicas=2)
        deployment["metadata"].update(name=name, namespace=self.namespace, labels={"app": name})
        spec = deployment["spec"]
        spec["selector"]["matchLabels"]["app"] = name
        spec["template"]["metadata"]["labels"]["app"] = name
        container = spec["template"]["spec"]["containers"][0]
        if configs:
            container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] = f"{name}-config"
            container["envFrom"][0]["secretRef"]["name"] = f"{name}-secret"
            config, secret = objects.podinfo_config(), objects.podinfo_secret()
            config["metadata"].update(name=f"{name}-config", namespace=self.namespace)
            secret["metadata"].update(name=f"{name}-secret", namespace=self.namespace)
            await self.api.create(CONFIGMAPS, self.namespace, config)
            await self.api.create(SECRETS, self.namespace, secret)
        else:
            del container["env"], container["envFrom"]
        await self.api.create(DEPLOYMENTS, self.namespace, deployment)
        if hpa:
            body = objects.podinfo_hpa()
            body["metadata"].update(name=name, namespace=self.namespace)
            body["spec"]["scaleTargetRef"]["name"] = name
            await self.api.create(HPAS, self.namespace, body)

    def canary(
        self, name: str, *, hpa: bool = False, webhooks: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body = objects.tutorial_canary(name=name, target=name, interval=INTERVAL, webhooks=webhooks or [])
        body["metadata"]["namespace"] = self.namespace
        body["spec"]["analysis"]["iterations"] = ITERATIONS
        if not hpa:
            del body["spec"]["autoscalerRef"]
        return body

    async def apply(self, body: dict[str, Any]) -> None:
        await self.api.create(CANARIES, self.namespace, body)

    async def patch(self, resource: Any, name: str, body: dict[str, Any]) -> None:
        await self.api.request(
            "PATCH",
            resource.path(self.namespace, name),
            body=body,
            content_type="application/merge-patch+json",
        )

    async def set_image(self, name: str, image: str) -> None:
        """`kubectl set image deployment/<name> podinfod=<image>` (a strategic merge patch)."""
        await self.api.request(
            "PATCH",
            DEPLOYMENTS.path(self.namespace, name),
            body={"spec": {"template": {"spec": {"containers": [{"name": "podinfod", "image": image}]}}}},
            content_type="application/strategic-merge-patch+json",
        )

    # -- webhooks --
    def hook(
        self, name: str, kind: str, path: str = "/", metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        hook: dict[str, Any] = {"name": name, "type": kind, "url": self.hooks + path, "timeout": "15s"}
        if metadata:
            hook["metadata"] = metadata
        return hook

    def tutorial_hooks(self) -> list[dict[str, Any]]:
        app = self.prometheus.url  # the stub also stands in for podinfo (`/`, `POST /token`)
        return [
            self.hook(
                "smoke-test",
                "pre-rollout",
                metadata={"type": "bash", "cmd": f"curl -sd 'anon' {app}/token | grep token"},
            ),
            {
                **self.hook(
                    "load-test", "rollout", metadata={"type": "cmd", "cmd": f"hey -z 1s -q 10 -c 2 {app}/"}
                ),
                "timeout": "5s",
            },
        ]

    async def gate(self, name: str, action: str) -> None:
        """POST /gate/<action> or /rollback/<action> of the load tester for this Canary (not recorded)."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.loadtester.rstrip("/") + action, json={"name": name, "namespace": self.namespace}
            ) as answer,
        ):
            if answer.status >= 300:
                raise RuntimeError(f"{action} for {name}: {answer.status} {await answer.text()}")

    # -- waiting --
    async def initialized(self, name: str) -> None:
        await self.trace.wait_phase(name, "Initialized")

    async def observe(self, seconds: float) -> None:
        """Let the controller act for a bounded time when there is nothing specific to wait for."""
        await asyncio.sleep(seconds)


# --- the scenarios ---


async def promotion(stage: Stage, name: str) -> None:
    """The tutorial: HPA, tracked ConfigMap and Secret, smoke test and load test, promotion."""
    await stage.deploy(name, hpa=True, configs=True)
    await stage.apply(stage.canary(name, hpa=True, webhooks=stage.tutorial_hooks()))
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_phase(name, "Succeeded")


async def rollback(stage: Stage, name: str) -> None:
    """A success rate of 60 %: two failed checks, rollback, Failed."""
    stage.prometheus.success_rate_by_target[name] = 60.0
    await stage.deploy(name)
    await stage.apply(stage.canary(name, webhooks=stage.tutorial_hooks()))
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.2")
    await stage.trace.wait_phase(name, "Failed")


async def gates(stage: Stage, name: str) -> None:
    """confirm-rollout closed (Waiting), then open; confirm-promotion closed (WaitingPromotion), then open."""
    hooks = [
        stage.hook("rollout-gate", "confirm-rollout", "/gate/check"),
        stage.hook("promotion-gate", "confirm-promotion", "/gate/check"),
    ]
    await stage.deploy(name)
    await stage.apply(stage.canary(name, webhooks=hooks))
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_phase(name, "Waiting")
    seen = len(stage.trace.phases(name))
    await stage.gate(name, "/gate/open")
    await stage.trace.wait_phase(name, "Progressing", after=seen)
    await stage.gate(name, "/gate/close")  # confirm-promotion asks the same gate once the iterations are done
    await stage.trace.wait_phase(name, "WaitingPromotion")
    await stage.gate(name, "/gate/open")
    await stage.trace.wait_phase(name, "Succeeded")


async def config_tracking(stage: Stage, name: str) -> None:
    """Only the ConfigMap changes: that alone starts an analysis; the `-primary` copy follows on promotion."""
    await stage.deploy(name, configs=True)
    await stage.apply(stage.canary(name))
    await stage.initialized(name)
    await stage.patch(CONFIGMAPS, f"{name}-config", {"data": {"color": "green"}})
    await stage.trace.wait_phase(name, "Succeeded")


async def suspend_resume(stage: Stage, name: str) -> None:
    """Suspended mid-analysis for three intervals, then resumed: the analysis finishes."""
    await stage.deploy(name)
    await stage.apply(stage.canary(name))
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_phase(name, "Progressing")
    await stage.patch(CANARIES, name, {"spec": {"suspend": True}})
    await stage.observe(30)
    await stage.patch(CANARIES, name, {"spec": {"suspend": False}})
    await stage.trace.wait_phase(name, "Succeeded")


async def skip_analysis(stage: Stage, name: str) -> None:
    """skipAnalysis: the new revision is promoted without checks, even with a failing success rate."""
    stage.prometheus.success_rate_by_target[name] = 10.0
    await stage.deploy(name)
    body = stage.canary(name)
    body["spec"]["skipAnalysis"] = True
    await stage.apply(body)
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_phase(name, "Succeeded")


async def hpa(stage: Stage, name: str) -> None:
    """The primary HPA is created at initialisation and follows the target HPA's spec on promotion."""
    await stage.deploy(name, hpa=True)
    await stage.apply(stage.canary(name, hpa=True))
    await stage.initialized(name)
    await stage.patch(HPAS, name, {"spec": {"minReplicas": 3, "maxReplicas": 6}})
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_phase(name, "Succeeded")


async def invalid_spec(stage: Stage, name: str) -> None:
    """`service.port: 0` (the CRD allows it): whatever each controller does with it within 30 s."""
    await stage.deploy(name)
    body = stage.canary(name)
    body["spec"]["service"]["port"] = 0
    await stage.apply(body)
    await stage.observe(30)


async def manual_rollback(stage: Stage, name: str) -> None:
    """A `rollback` webhook on the load tester's /rollback/check: opened mid-analysis, the canary fails."""
    await stage.deploy(name)
    body = stage.canary(name, webhooks=[stage.hook("manual-rollback", "rollback", "/rollback/check")])
    body["spec"]["analysis"]["iterations"] = 6  # long enough to open the gate mid-analysis
    await stage.apply(body)
    await stage.initialized(name)
    await stage.set_image(name, "stefanprodan/podinfo:3.1.1")
    await stage.trace.wait_status(name, "iteration 1", lambda status: int(status.get("iterations") or 0) >= 1)
    await stage.gate(name, "/rollback/open")
    await stage.trace.wait_phase(name, "Failed")
    await stage.gate(name, "/rollback/close")


Scenario = Callable[[Stage, str], Awaitable[None]]

# name -> story; the name is also the Canary's and the Deployment's (none is a prefix of another plus "-").
SCENARIOS: dict[str, Scenario] = {
    "promotion": promotion,
    "rollback": rollback,
    "gates": gates,
    "configs": config_tracking,
    "suspend": suspend_resume,
    "skip": skip_analysis,
    "hpa": hpa,
    "invalid": invalid_spec,
    "manual-rollback": manual_rollback,
}
