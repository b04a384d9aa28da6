"""Scenario (1): the tutorial's Blue/Green rollout, end to end, with the real controller process."""

from __future__ import annotations

import asyncio
import subprocess

from controller.kube.api import DEPLOYMENTS, HPAS, SERVICES
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import apply_canary, deploy_podinfo, set_image
from tests.controller.kube.support import eventually


def assert_in_order(messages: list[str], expected: list[str]) -> None:
    """`expected` appears in `messages` as a subsequence (other events may sit in between)."""
    position = 0
    for wanted in expected:
        try:
            position = messages.index(wanted, position) + 1
        except ValueError:
            raise AssertionError(
                f"{wanted!r} missing after position {position} in:\n" + "\n".join(messages)
            ) from None


async def kubectl(bench: Bench, *args: str) -> subprocess.CompletedProcess[str]:
    argv, env = bench.target.kubectl(*args)
    return await asyncio.to_thread(
        subprocess.run,
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


async def test_tutorial_bootstrap_then_rollout_and_promotion(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()

    await bench.wait_phase("Initialized")
    # "After a couple of seconds the controller creates the canary objects" (the tutorial's list).
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    await bench.api.get(HPAS, bench.ns, "podinfo-primary")
    services = {
        name: await bench.api.get(SERVICES, bench.ns, name)
        for name in ("podinfo", "podinfo-canary", "podinfo-primary")
    }
    for resource, expected in (
        (DEPLOYMENTS, {"podinfo", "podinfo-primary"}),
        (HPAS, {"podinfo", "podinfo-primary"}),
        (SERVICES, {"podinfo", "podinfo-canary", "podinfo-primary"}),
    ):
        listing = await bench.api.request("GET", resource.path(bench.ns))
        assert {item["metadata"]["name"] for item in listing["items"]} == expected
    assert services["podinfo"]["spec"]["selector"] == {"app": "podinfo-primary"}
    assert services["podinfo-canary"]["spec"]["selector"] == {"app": "podinfo"}
    assert {p["name"] for p in services["podinfo-canary"]["spec"]["ports"]} == {
        "http",
        "http-metrics",
        "grpc",
    }
    assert (await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo"))["spec"]["replicas"] == 0
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.0"
    listed = await kubectl(bench, "get", "canaries", "--all-namespaces")
    assert listed.returncode == 0, listed.stderr
    assert "Initialized" in listed.stdout and "WEIGHT" in listed.stdout

    # Both Deployments now take a moment to roll out, so the "waiting for rollout" events show.
    bench.rollouts.slow.update({"podinfo": 0.5, "podinfo-primary": 0.5})
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    canary = await bench.wait_phase("Succeeded")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")

    messages = await bench.messages()
    # What follows "waiting for rollout to finish: " is the Deployment's progress, which a real
    # Deployment controller reports in several steps ("1 out of 2 new replicas have been updated", ...).
    canary_waiting = f"canary deployment podinfo.{bench.ns} not ready: waiting for rollout to finish: "
    primary_waiting = f"podinfo-primary.{bench.ns} not ready: waiting for rollout to finish: "
    assert_in_order(
        [m[: len(canary_waiting)] if m.startswith(canary_waiting) else m for m in messages],
        [
            f"Initialization done! podinfo.{bench.ns}",
            f"New revision detected! Scaling up podinfo.{bench.ns}",
            canary_waiting,
            f"Starting canary analysis for podinfo.{bench.ns}",
            "Pre-rollout check smoke-test passed",
            *(f"Advance podinfo.{bench.ns} canary iteration {i}/10" for i in range(1, 11)),
            f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}",
        ],
    )
    assert_in_order(
        [m[: len(primary_waiting)] if m.startswith(primary_waiting) else m for m in messages],
        [
            f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}",
            primary_waiting,
            f"Promotion completed! Scaling down podinfo.{bench.ns}",
        ],
    )
    for i in range(1, 11):
        assert messages.count(f"Advance podinfo.{bench.ns} canary iteration {i}/10") == 1
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.1"

    async def canary_scaled_down() -> bool:
        return bool((await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo"))["spec"]["replicas"] == 0)

    await eventually(canary_scaled_down, what="the canary at 0 replicas")
    status = canary["status"]
    assert status["canaryWeight"] == 0
    assert status["lastPromotedSpec"] == status["lastAppliedSpec"]
    promoted = [c for c in status["conditions"] if c["type"] == "Promoted"]
    assert promoted and promoted[0]["status"] == "True" and promoted[0]["reason"] == "Succeeded"
    assert bench.prometheus.queries, "the analysis queried Prometheus"

    described = await kubectl(bench, "-n", bench.ns, "describe", "canary/podinfo")
    assert described.returncode == 0, described.stderr
    assert f"Promotion completed! Scaling down podinfo.{bench.ns}" in described.stdout
    assert f"Advance podinfo.{bench.ns} canary iteration 10/10" in described.stdout
