"""Release control end to end: the real ``kubectl-flagman`` executable (also as ``kubectl flagman``) against
the sandbox emulator and the real kube-apiserver (the ``bench`` fixture runs each test on both), with the
real controller process honouring the requests.

The analysis interval is one minute, so nothing but a request (which wakes the Canary's loop) can move
the release within the test's seconds: each assertion shows the request's own effect.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from controller.api.options import AUTO_PROMOTION_ANNOTATION
from controller.api.requests import PAUSE_ANNOTATION, REQUEST_ANNOTATION
from controller.errors import FlagmanError
from controller.kube.api import CANARIES, DEPLOYMENTS
from controller.rollout.revision import template_hash
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import INTERVAL, deploy_podinfo, set_image, tutorial_webhooks
from tests.controller.kube import objects

PLUGIN = Path(sys.executable).parent / "kubectl-flagman"
SLOW_INTERVAL = "1m"
GITOPS_MANAGER = "kustomize-controller"  # Flux's field manager


async def flagman(bench: Bench, *args: str, via_kubectl: bool = False) -> tuple[int, str, str]:
    """Run the plugin as a user would (an asyncio subprocess: the rollout simulator keeps running)."""
    command = ["kubectl", "flagman"] if via_kubectl else [str(PLUGIN)]
    env = {**os.environ, "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        *command,
        "--kubeconfig",
        str(bench.target.admin_kubeconfig),
        "-n",
        bench.ns,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def canary_manifest(bench: Bench, threshold: int = 2, interval: str = SLOW_INTERVAL) -> dict[str, Any]:
    body = objects.tutorial_canary(interval=interval, webhooks=tutorial_webhooks(bench))
    body["metadata"]["namespace"] = bench.ns
    body["spec"]["analysis"]["threshold"] = threshold
    return body


async def gitops_apply(bench: Bench, manifest: dict[str, Any]) -> dict[str, Any]:
    """What Flux's kustomize-controller does: a forced server-side apply as its own field manager."""
    return await bench.api.request(
        "PATCH",
        CANARIES.path(bench.ns, "podinfo") + f"?fieldManager={GITOPS_MANAGER}&force=true",
        body=manifest,
        content_type="application/apply-patch+yaml",
    )


async def progressing(bench: Bench) -> None:
    await deploy_podinfo(bench)
    # Initialization waits for the primary at the analysis interval: a short one until Initialized.
    await gitops_apply(bench, canary_manifest(bench, interval=INTERVAL))
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await gitops_apply(bench, canary_manifest(bench))
    await asyncio.sleep(0.5)  # the loop's current 200 ms sleep ends; from then on it waits a minute
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Progressing")


async def whoami(bench: Bench) -> str:
    """The user the plugin should name: the API server's SelfSubjectReview answer (real kube-apiserver), or
    the kubeconfig user where the server has no such API (the emulator)."""
    try:
        review = await bench.api.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    except FlagmanError:
        return "sandbox"
    return str(review["status"]["userInfo"]["username"])


async def primary_image(bench: Bench) -> str:
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    return str(primary["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_abort_retry_promote_and_watch(bench: Bench) -> None:
    await progressing(bench)
    user = await whoami(bench)

    # `status --watch` follows the release; abort makes it fail: exit code 3.
    watcher = asyncio.create_task(flagman(bench, "status", "podinfo", "--watch", "--timeout", "60s"))
    await asyncio.sleep(0.5)
    code, out, err = await flagman(bench, "abort", "podinfo")
    assert code == 0, err
    assert f"Rolling back podinfo.{bench.ns}: abort requested by {user} (via kubectl-flagman)" in out
    code, out, _ = await watcher
    assert code == 3, out
    assert "Failed" in out.splitlines()[-1]
    assert f"Canary failed! Scaling down podinfo.{bench.ns}" in await bench.messages()
    assert (await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo"))["spec"]["replicas"] == 0

    # retry: the same revision is analysed again, without any change to the Deployment.
    code, out, err = await flagman(bench, "retry", "podinfo", via_kubectl=True)
    assert code == 0, err
    assert f"Retrying the analysis of podinfo.{bench.ns} requested by {user}" in out
    assert await bench.phase() == "Progressing"

    # promote: the analysis ends now; --watch exits 0 once Succeeded.
    watcher = asyncio.create_task(flagman(bench, "status", "podinfo", "-w", "--timeout", "60s"))
    code, out, err = await flagman(bench, "promote", "podinfo")
    assert code == 0, err
    assert f"Promotion of podinfo.{bench.ns} requested by {user} (via kubectl-flagman)" in out
    code, out, _ = await watcher
    assert code == 0, out
    await bench.wait_phase("Succeeded")
    assert await primary_image(bench) == "stefanprodan/podinfo:3.1.1"
    messages = await bench.messages()
    assert f"Starting canary analysis for podinfo.{bench.ns}" not in messages, (
        "no iteration ran: the interval is 1m"
    )

    # The promote request is spent: promoting again is refused by the plugin (exit 1) without a write.
    code, _, err = await flagman(bench, "promote", "podinfo")
    assert (code, err.strip()) == (
        1,
        f"error: cannot promote podinfo.{bench.ns}: it is Succeeded, not Progressing or WaitingPromotion",
    )

    # status shows the handled request and the events.
    code, out, _ = await flagman(bench, "status", "podinfo")
    assert code == 0
    assert "Phase:          Succeeded" in out
    assert f"Last request:   honoured: Promotion of podinfo.{bench.ns} requested by {user}" in out
    assert "smoke-test" in out and "request-success-rate" in out
    code, out, _ = await flagman(bench, "status", "podinfo", "-o", "json")
    assert json.loads(out)["phase"] == "Succeeded"


async def test_requests_survive_a_gitops_server_side_apply(bench: Bench) -> None:
    await progressing(bench)
    user = await whoami(bench)
    code, out, err = await flagman(bench, "pause", "podinfo")
    assert (code, out.strip()) == (0, f"podinfo.{bench.ns} paused by {user}"), err
    code, out, err = await flagman(bench, "promote", "podinfo", "--no-wait")
    assert code == 0, err

    # Flux re-applies the manifest from git (one field changed), after the requests were written.
    applied = await gitops_apply(bench, canary_manifest(bench, threshold=3))
    annotations = applied["metadata"].get("annotations") or {}
    assert PAUSE_ANNOTATION in annotations and REQUEST_ANNOTATION in annotations, applied["metadata"]
    assert applied["spec"]["analysis"]["threshold"] == 3
    managers = {entry["manager"] for entry in applied["metadata"]["managedFields"]}
    assert {GITOPS_MANAGER, "kubectl-flagman"} <= managers

    # Paused: the promote request waits; get shows it.
    await bench.wait_message(f"skipping canary run as object is paused by {user}")
    code, out, _ = await flagman(bench, "get")
    assert code == 0
    row = out.splitlines()[1].split()
    assert row[:2] == ["podinfo", "Progressing"] and row[4] == "yes", out
    assert await bench.phase() == "Progressing"

    # resume: the pending promote is honoured.
    code, out, err = await flagman(bench, "resume", "podinfo")
    assert (code, out.strip()) == (0, f"podinfo.{bench.ns} resumed"), err
    await bench.wait_phase("Succeeded", within=90)
    assert any(f"requested by {user} (via kubectl-flagman)" in m for m in await bench.messages())

    code, out, _ = await flagman(bench, "get", "-A", "-o", "yaml")
    listing = yaml.safe_load(out)
    assert ("podinfo", bench.ns) in [
        (i["metadata"]["name"], i["metadata"]["namespace"]) for i in listing["items"]
    ]


async def test_an_old_request_never_approves_a_newer_release(bench: Bench) -> None:
    await progressing(bench)
    old = (await bench.canary())["status"]["lastAppliedSpec"]
    # A request made for the revision under analysis (e.g. by a queued CI job) arrives after a newer
    # revision was pushed: it must not promote that one.
    await set_image(bench, "stefanprodan/podinfo:3.1.2")
    body = await bench.canary()
    annotation = json.dumps({"action": "promote", "revision": old, "id": "old-1", "requestedBy": "ci"})
    body["metadata"].setdefault("annotations", {})[REQUEST_ANNOTATION] = annotation
    written = time.monotonic()
    await bench.api.request("PUT", CANARIES.path(bench.ns, "podinfo"), body=body)

    target = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo")
    new = template_hash(target["spec"]["template"])
    await bench.wait_message(
        f"Ignoring promote request by ci (via flagman-tests): it was made for revision {old},"
        f" the canary is at {new}",
        within=20,
    )
    # The request woke the loop: handled long before the 1-minute interval.
    handled = time.monotonic() - written
    print(f"request handled {handled:.2f}s after it was written")
    assert handled < 10, handled
    assert await bench.phase() == "Progressing"
    assert await primary_image(bench) == "stefanprodan/podinfo:3.1.0"


async def test_usage_and_errors(bench: Bench) -> None:
    code, _, err = await flagman(bench, "status", "missing")
    assert (code, err.strip()) == (1, f'error: canary "missing" not found in namespace "{bench.ns}"')
    code, _, err = await flagman(bench, "promote")
    assert code == 2 and "the following arguments are required: name" in err
    code, _, err = await flagman(bench, "--context", "nope", "get")
    assert (code, err.strip()) == (1, 'error: context "nope" does not exist in the kubeconfig')
    code, _, err = await flagman(bench, "status", "podinfo", "--watch", "--timeout", "soon")
    assert code == 2 and "invalid" in err


async def test_auto_promotion_after_a_closed_gate(bench: Bench) -> None:
    """`flagman.app/auto-promotion-seconds: "2"` with the load tester's confirm-promotion gate closed: the
    release waits in WaitingPromotion for two seconds, then promotes."""
    await deploy_podinfo(bench)
    manifest = canary_manifest(bench, interval=INTERVAL)
    manifest["spec"]["analysis"]["iterations"] = 2
    gate = {
        "name": "approval",
        "type": "confirm-promotion",
        "url": bench.loadtester.rstrip("/") + "/gate/check",
    }
    manifest["spec"]["analysis"]["webhooks"].append(gate)
    manifest["metadata"]["annotations"] = {AUTO_PROMOTION_ANNOTATION: "2"}
    await gitops_apply(bench, manifest)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")

    waiting = await bench.wait_phase("WaitingPromotion")
    entered = waiting["status"]["lastTransitionTime"]
    await bench.wait_message(f"Auto-promotion of podinfo.{bench.ns} after 2s waiting for promotion approval")
    await bench.wait_phase("Succeeded")
    assert await primary_image(bench) == "stefanprodan/podinfo:3.1.1"
    promoted_at = await _event_time(bench, f"Auto-promotion of podinfo.{bench.ns} after 2s")
    waited = (_parse(promoted_at) - _parse(entered)).total_seconds()
    assert 2 <= waited <= 4, (entered, promoted_at)


async def _event_time(bench: Bench, prefix: str) -> str:
    listing = await bench.api.request("GET", f"/api/v1/namespaces/{bench.ns}/events")
    for item in listing.get("items") or []:
        if str(item.get("message", "")).startswith(prefix):
            return str(item.get("eventTime") or item.get("lastTimestamp"))
    raise AssertionError(f"no event {prefix!r}")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
