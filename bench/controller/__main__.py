"""`python -m bench.controller`: the controller process against the sandbox API server, on loopback.

Measures, for a Blue/Green rollout of the tutorial's podinfo Canary (no webhooks, metrics from a loopback
Prometheus stub, Deployment status written by the test harness's rollout simulator):

* API requests per steady analysis tick: every request the controller process (its own client and kopf)
  sends between the "iteration 2/N" and "iteration N-1/N" events, from the API server's request log,
  divided by the ticks in between. Watch streams are long-running and counted apart.
* wall time from `set image` to phase Succeeded, against the floor (N+2)·I.

Bounded: a few rollouts of at most ~10 s each. Reuses the integration tests' harness (loopback stand-ins).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import pathlib
import sys
import tempfile
import time
from dataclasses import dataclass

from controller.kube.api import CANARIES, CONFIGMAPS, DEPLOYMENTS, HPAS, SECRETS, KubeApi
from sandbox.apiserver.testing import ApiServer
from tests.controller.integration.harness import ControllerProcess, RolloutSimulator, start_prometheus_stub
from tests.controller.kube import objects
from tests.controller.kube.support import create_namespace, eventually, install_crds

HARNESS_AGENT = "flagman-bench"

# Flagger, per steady Progressing tick of a Deployment canary on the kubernetes provider (spec 2.2, every
# read is a GET on the API): canary (step 0), target (GetMetadata), canary + primary Services (router
# Initialize), primary Deployment (Initialize), source + primary HPA (primary scaler), apex Service
# (Reconcile), primary readiness, target + each tracked config (change check), target readiness, canary
# GET + UpdateStatus (SetStatusIterations under RetryOnConflict), one event POST.
FLAGGER_REQUESTS_PER_TICK = "14 + 1 per tracked config"


@dataclass
class Result:
    iterations: int
    interval: float
    requests_per_tick: float
    by_verb: dict[str, float]
    watch_requests: int
    wall_seconds: float

    @property
    def floor(self) -> float:
        return (self.iterations + 2) * self.interval

    @property
    def overhead(self) -> float:
        return self.wall_seconds - self.floor


def _controller_requests(server: ApiServer, start: int, end: int) -> list[tuple[str, str]]:
    records = list(server.request_log)[start:end]
    return [
        (record.verb or record.method, record.resource or record.path)
        for record in records
        if record.user_agent != HARNESS_AGENT
    ]


async def _messages(api: KubeApi) -> list[str]:
    listing = await api.request("GET", "/api/v1/namespaces/test/events")
    items = sorted(listing.get("items") or [], key=lambda item: int(item["metadata"]["resourceVersion"]))
    return [item["message"] for item in items if (item.get("involvedObject") or {}).get("kind") == "Canary"]


async def one_rollout(iterations: int, interval: float, workdir: pathlib.Path) -> Result:
    async with ApiServer(workdir=workdir, bookmark_interval=60.0) as server:
        api = await KubeApi.connect(server.kubeconfig, user_agent=HARNESS_AGENT)
        stub, stub_runner = await start_prometheus_stub()
        rollouts = RolloutSimulator(api)
        controller = ControllerProcess(server.kubeconfig, stub.url, workdir / "controller.log")
        try:
            await install_crds(api)
            await create_namespace(api, "test")
            await rollouts.start()
            await api.create(CONFIGMAPS, "test", objects.podinfo_config())
            await api.create(SECRETS, "test", objects.podinfo_secret())
            await api.create(DEPLOYMENTS, "test", objects.podinfo(replicas=2))
            await api.create(HPAS, "test", objects.podinfo_hpa())
            canary = objects.tutorial_canary(interval=f"{int(interval * 1000)}ms", webhooks=[])
            canary["spec"]["analysis"]["iterations"] = iterations
            await api.create(CANARIES, "test", canary)
            controller.start()

            async def phase_is(phase: str) -> bool:
                body = await api.get(CANARIES, "test", "podinfo")
                return bool((body.get("status") or {}).get("phase") == phase)

            await eventually(lambda: phase_is("Initialized"), within=60, what="Initialized")
            await asyncio.sleep(interval)
            started = time.monotonic()
            await api.request(
                "PATCH",
                DEPLOYMENTS.path("test", "podinfo"),
                body={
                    "spec": {
                        "template": {"spec": {"containers": [{"name": "podinfod", "image": "podinfo:2"}]}}
                    }
                },
                content_type="application/strategic-merge-patch+json",
            )
            first, last = 2, iterations - 1
            marks: dict[int, int] = {}
            while len(marks) < 2:
                messages = await _messages(api)
                for mark in (first, last):
                    if (
                        mark not in marks
                        and f"Advance podinfo.test canary iteration {mark}/{iterations}" in messages
                    ):
                        marks[mark] = len(server.request_log)
                if time.monotonic() - started > 120:
                    raise RuntimeError(f"rollout stalled:\n{controller.log_tail()}")
                await asyncio.sleep(0.01)
            await eventually(lambda: phase_is("Succeeded"), within=120, interval=0.01, what="Succeeded")
            wall = time.monotonic() - started
            requests = _controller_requests(server, marks[first], marks[last])
            ticks = last - first
            watches = sum(1 for verb, _ in requests if verb == "watch")
            counted = [(verb, resource) for verb, resource in requests if verb != "watch"]
            by_verb = collections.Counter(f"{verb} {resource}" for verb, resource in counted)
            return Result(
                iterations=iterations,
                interval=interval,
                requests_per_tick=len(counted) / ticks,
                by_verb={key: count / ticks for key, count in sorted(by_verb.items())},
                watch_requests=watches,
                wall_seconds=wall,
            )
        finally:
            controller.stop()
            await rollouts.stop()
            await stub_runner.cleanup()
            await api.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.controller")
    parser.add_argument(
        "--runs", default="10x0.5,5x1", help="rollouts as ITERATIONSxINTERVAL_SECONDS, comma-separated"
    )
    options = parser.parse_args(argv)
    runs = [(int(n), float(i)) for n, i in (item.split("x") for item in options.runs.split(","))]
    results = []
    for iterations, interval in runs:
        with tempfile.TemporaryDirectory(prefix="bench-controller-") as workdir:
            results.append(asyncio.run(one_rollout(iterations, interval, pathlib.Path(workdir))))
    print()
    print("| N | I | API requests / steady tick | Flagger (spec) | wall time | floor (N+2)·I | overhead |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(
            f"| {result.iterations} | {result.interval:g}s | {result.requests_per_tick:.2f} "
            f"| {FLAGGER_REQUESTS_PER_TICK} | {result.wall_seconds:.2f}s | {result.floor:.2f}s "
            f"| {result.overhead:+.2f}s ({result.overhead / result.interval:+.2f}·I) |"
        )
    print()
    for result in results:
        detail = ", ".join(f"{key}: {value:.2f}" for key, value in result.by_verb.items())
        label = f"N={result.iterations} I={result.interval:g}s"
        print(f"{label} per tick: {detail}; watch requests: {result.watch_requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
