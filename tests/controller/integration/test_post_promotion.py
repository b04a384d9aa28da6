"""Post-promotion analysis and the reduced-size preview end to end: the real controller process against the
sandbox emulator and the real kube-apiserver (the ``bench`` fixture runs each test on both), the Prometheus
stand-in answering the metric queries, the real ``kubectl-flagman`` following the release.

The stand-in tells the promoted version's queries apart: after the promotion ``{{ target }}`` is the primary,
so they select ``podinfo-primary-...`` pods. A failing answer to those alone fails the post-promotion
analysis, and nothing else, whatever the timing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller.api.options import POST_PROMOTION_ANNOTATION, PREVIEW_REPLICAS_ANNOTATION
from controller.kube.api import CONFIGMAPS, DEPLOYMENTS, SECRETS, SERVICES
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import INTERVAL, deploy_podinfo, set_image
from tests.controller.integration.test_release_control import (
    PLUGIN,
    canary_manifest,
    flagman,
    gitops_apply,
    primary_image,
)
from tests.controller.kube import objects

PROMOTED_PODS = 'kubernetes_pod_name=~"podinfo-primary-['


async def watching(bench: Bench) -> asyncio.Task[tuple[int, str, str]]:
    """`kubectl flagman status podinfo --watch --release`, once it follows the Canary (its first line is
    out): the release below takes about two seconds, less than the plugin takes to start."""
    process = await asyncio.create_subprocess_exec(
        str(PLUGIN),
        *("--kubeconfig", str(bench.target.admin_kubeconfig), "-n", bench.ns),
        *("status", "podinfo", "--watch", "--release", "--timeout", "60s"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout=30)

    async def finish() -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
        return int(process.returncode or 0), first.decode() + out.decode(), err.decode()

    return asyncio.create_task(finish())


def post_promotion_canary(bench: Bench, iterations: str) -> dict[str, Any]:
    manifest = canary_manifest(bench, interval=INTERVAL)
    manifest["spec"]["analysis"]["iterations"] = 2
    manifest["metadata"]["annotations"] = {POST_PROMOTION_ANNOTATION: iterations}
    return manifest


async def test_post_promotion_analysis_passes_before_succeeded(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await gitops_apply(bench, post_promotion_canary(bench, "3"))
    bench.controller.start()
    await bench.wait_phase("Initialized")
    watcher = await watching(bench)
    await set_image(bench, "stefanprodan/podinfo:3.1.1")

    code, out, _ = await watcher
    assert code == 0, out
    lines = out.splitlines()
    verifying = [line for line in lines if line.startswith("Finalising (post-promotion analysis)")]
    assert verifying, out
    assert lines[-1] == f"podinfo.{bench.ns}: Succeeded"
    messages = await bench.messages()
    ns = bench.ns
    assert f"Starting post-promotion analysis for podinfo-primary.{ns}: 3 iterations" in messages
    assert f"Post-promotion analysis of podinfo-primary.{ns} iteration 3/3 passed" in messages
    order = [messages.index(m) for m in (
        f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
        f"Post-promotion analysis of podinfo-primary.{ns} iteration 1/3 passed",
        f"Promotion completed! Scaling down podinfo.{ns}",
    )]  # fmt: skip
    assert order == sorted(order), messages
    assert any(PROMOTED_PODS in query for query in bench.prometheus.queries), "{{ target }} is the primary"
    status = (await bench.canary())["status"]
    condition = next(c for c in status["conditions"] if c["type"] == "PostPromotionAnalysis")
    assert (condition["status"], condition["reason"]) == ("True", "Passed")
    assert status["lastPromotedSpec"] == status["lastAppliedSpec"]

    code, out, _ = await flagman(bench, "status", "podinfo")
    assert "Post-promotion: passed: 3 of 3 post-promotion iterations of podinfo-primary" in out


async def test_a_failed_post_promotion_analysis_rolls_back(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await gitops_apply(bench, post_promotion_canary(bench, "5"))
    bench.controller.start()
    await bench.wait_phase("Initialized")
    promoted_before = (await bench.canary())["status"]["lastPromotedSpec"]
    bench.prometheus.custom[PROMOTED_PODS] = [42.0]  # the promoted version fails, the canary did not
    watcher = await watching(bench)
    await set_image(bench, "stefanprodan/podinfo:3.1.1")

    code, out, _ = await watcher
    assert code == 3, out
    assert "Finalising (post-promotion analysis)" in out
    ns = bench.ns
    messages = await bench.messages()
    assert (
        f"Post-promotion analysis of podinfo-primary.{ns} failed: rolling back to the previous version"
        in messages
    )
    rolled_back = f"Rolling back podinfo.{ns} to the previous version {promoted_before}"
    assert f"{rolled_back}: post-promotion analysis failed" in messages, messages
    status = (await bench.canary())["status"]
    assert status["phase"] == "Failed"
    assert status["lastPromotedSpec"] == promoted_before
    # The apex went to the warm previous pods in one step; the primary gets the old template back and
    # the apex returns to it.
    restored = f"podinfo-primary runs the previous version {promoted_before} again"
    await bench.wait_message(f"Rollback of podinfo.{ns} finished: {restored}")
    apex = await bench.api.get(SERVICES, ns, "podinfo")
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert await primary_image(bench) == "stefanprodan/podinfo:3.1.0"
    switched = [m for m in messages if m.startswith(rolled_back)]
    assert len(switched) == 1
    condition = next(c for c in status["conditions"] if c["type"] == "PostPromotionAnalysis")
    assert (condition["status"], condition["reason"]) == ("False", "Failed")
    assert (await bench.api.get(DEPLOYMENTS, ns, "podinfo"))["spec"]["replicas"] == 0


async def test_preview_replica_count(bench: Bench) -> None:
    # No HPA: an autoscaler owns the canary's size (the option is ignored there).
    await bench.create(CONFIGMAPS, objects.podinfo_config())
    await bench.create(SECRETS, objects.podinfo_secret())
    await bench.create(DEPLOYMENTS, objects.podinfo(replicas=3))
    manifest = canary_manifest(bench, interval=INTERVAL)
    del manifest["spec"]["autoscalerRef"]
    manifest["spec"]["analysis"]["iterations"] = 3
    manifest["metadata"]["annotations"] = {PREVIEW_REPLICAS_ANNOTATION: "1"}
    await gitops_apply(bench, manifest)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")

    seen: list[tuple[str, int, int]] = []  # (phase, iterations, canary replicas)
    async with asyncio.timeout(60):
        while not seen or seen[-1][0] != "Succeeded":
            # The Deployment first: the status read after it is never older than its replicas.
            target = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo")
            status = (await bench.canary()).get("status") or {}
            seen.append((status.get("phase", ""), status.get("iterations", 0), target["spec"]["replicas"]))
            await asyncio.sleep(0.02)
    analysis = {
        replicas for phase, iterations, replicas in seen if phase == "Progressing" and 0 < iterations <= 3
    }
    assert analysis == {1}, seen
    # Promoting can be shorter than one sample here (the simulated primary is ready at once): when seen, the
    # canary is at full size. (Finalising ends with the canary scaled to zero.)
    promoting = {replicas for phase, _, replicas in seen if phase == "Promoting"}
    assert promoting <= {3}, seen
    # The promotion copies the canary's replicas to the primary: 3 proves the canary was at full size then.
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    assert primary["spec"]["replicas"] == 3, "the promotion copied the full size, not the preview's"
    assert await primary_image(bench) == "stefanprodan/podinfo:3.1.1"
    ns = bench.ns
    messages = await bench.messages()
    assert f"Preview of podinfo.{ns} with 1 of 3 replicas" in messages
    assert f"Scaling up podinfo.{ns} from 1 to 3 replicas for promotion" in messages
