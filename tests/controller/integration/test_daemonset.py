"""Flagger's test/kubernetes/test-daemonset.sh, replayed against the real controller process on the sandbox
API server, with Flagger's own assertions run through real kubectl:

1. `kubectl -n test get canary/podinfo-ds | grep Initialized`
2. after `kubectl set image daemonset/podinfo-ds podinfod=...:6.0.1`:
   `kubectl -n test describe daemonset/podinfo-ds-primary | grep 6.0.1`
3. re-applied with `revertOnDeletion: true`:
   `kubectl get canary podinfo-ds -o jsonpath='{.metadata.finalizers}' | grep finalizer.flagger.app`
4. after deleting the Canary: `kubectl get daemonset podinfo-ds -o jsonpath='{.status.numberReady}' | grep 1`
   (Flagger's script deletes `canary podinfo`, a typo for `podinfo-ds`; the intended Canary is deleted here).

Runs on both backends. The emulator has no DaemonSet controller: `DaemonSetSimulator` plays one for a one-node
cluster, writing the status a real one would (one pod, none when the scale-to-zero nodeSelector excludes the
node); the real control plane runs kube-controller-manager's, with the bench's simulated node.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from controller.kube.api import CANARIES, CONFIGMAPS, DAEMONSETS, SERVICES, KubeApi
from controller.kube.watchcache import WatchCache
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import tutorial_webhooks
from tests.controller.integration.test_tutorial import kubectl
from tests.controller.kube.daemonsets import podinfo_ds, podinfo_ds_canary, podinfo_ds_config
from tests.controller.kube.support import eventually

NODE_LABELS = {"kubernetes.io/os": "linux"}


class DaemonSetSimulator:
    """Status of every DaemonSet as a DaemonSet controller on one node labelled `NODE_LABELS` writes it."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.cache = WatchCache(api, DAEMONSETS, "", watch_timeout_seconds=30, on_change=self._changed)
        self._pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def _changed(self, event_type: str, obj: dict[str, Any]) -> None:
        if event_type != "DELETED":
            self._pending.put_nowait((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    async def start(self) -> None:
        await self.cache.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.cache.stop()

    @staticmethod
    def desired_status(obj: dict[str, Any]) -> dict[str, Any]:
        selector = obj["spec"]["template"]["spec"].get("nodeSelector") or {}
        scheduled = int(all(NODE_LABELS.get(key) == value for key, value in selector.items()))
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "currentNumberScheduled": scheduled,
            "desiredNumberScheduled": scheduled,
            "updatedNumberScheduled": scheduled,
            "numberReady": scheduled,
            "numberAvailable": scheduled,
            "numberMisscheduled": 0,
        }

    async def _run(self) -> None:
        while True:
            namespace, name = await self._pending.get()
            obj = self.cache.get(namespace, name)
            if obj is None:
                continue
            desired = self.desired_status(obj)
            if all((obj.get("status") or {}).get(key, 0) == value for key, value in desired.items()):
                continue
            with contextlib.suppress(Exception):  # a conflict: the next watch event retries
                self.cache.remember(
                    await self.api.request(
                        "PUT", DAEMONSETS.path(namespace, name, "status"), body={**obj, "status": desired}
                    )
                )


def _canary(bench: Bench, **spec: Any) -> dict[str, Any]:
    body = podinfo_ds_canary(**spec)
    analysis = body["spec"]["analysis"]
    analysis["interval"] = "200ms"
    analysis["metrics"][0]["interval"] = "1m"
    analysis["webhooks"] = [
        {"name": "gate", "type": "confirm-rollout", "url": f"{bench.loadtester}gate/approve"},
        *tutorial_webhooks(bench),
    ]
    return body


async def _grep(bench: Bench, needle: str, *args: str) -> bool:
    done = await kubectl(bench, *args)
    return done.returncode == 0 and needle in done.stdout


async def _until(bench: Bench, needle: str, *args: str, within: float = 60) -> None:
    try:
        await eventually(
            lambda: _grep(bench, needle, *args), within=within, interval=0.2, what=" ".join(args)
        )
    except AssertionError as error:
        events = "\n".join(await bench.messages("podinfo-ds"))
        raise AssertionError(
            f"{error}\n--- events ---\n{events}\n--- log ---\n{bench.controller.log_tail()}"
        ) from None


async def test_flaggers_daemonset_scenario(bench: Bench) -> None:
    # The real control plane runs kube-controller-manager's DaemonSet controller (its pods go to the
    # bench's node, labelled kubernetes.io/os=linux); the emulator has none, so the simulator writes status.
    simulator = DaemonSetSimulator(bench.api) if bench.target.name == "emulator" else None
    if simulator is not None:
        await simulator.start()
    try:
        await bench.create(CONFIGMAPS, podinfo_ds_config())
        await bench.create(DAEMONSETS, podinfo_ds())
        await bench.create(CANARIES, _canary(bench))
        bench.controller.start()

        await _until(bench, "Initialized", "-n", bench.ns, "get", "canary/podinfo-ds")
        target = await bench.api.get(DAEMONSETS, bench.ns, "podinfo-ds")
        assert target["spec"]["template"]["spec"]["nodeSelector"]["flagger.app/scale-to-zero"] == "true"
        assert target["status"]["numberReady"] == 0  # the canary DaemonSet runs no pod
        primary = await bench.api.get(DAEMONSETS, bench.ns, "podinfo-ds-primary")
        assert primary["spec"]["template"]["spec"]["nodeSelector"] == NODE_LABELS
        selectors = {
            name: (await bench.api.get(SERVICES, bench.ns, name))["spec"]["selector"]
            for name in ("podinfo-ds", "podinfo-ds-primary", "podinfo-ds-canary")
        }
        assert selectors == {
            "podinfo-ds": {"name": "podinfo-ds-primary"},
            "podinfo-ds-primary": {"name": "podinfo-ds-primary"},
            "podinfo-ds-canary": {"name": "podinfo-ds"},
        }
        ports = (await bench.api.get(SERVICES, bench.ns, "podinfo-ds"))["spec"]["ports"]
        assert {(p["name"], p["port"]) for p in ports} == {
            ("http", 80),
            ("http-metrics", 9797),
        }  # portDiscovery

        done = await kubectl(
            bench,
            "-n",
            bench.ns,
            "set",
            "image",
            "daemonset/podinfo-ds",
            "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1",
        )
        assert done.returncode == 0, done.stderr
        await _until(bench, "6.0.1", "-n", bench.ns, "describe", "daemonset/podinfo-ds-primary")
        await bench.wait_phase("Succeeded", name="podinfo-ds")
        messages = await bench.messages("podinfo-ds")
        assert f"New revision detected! Scaling up podinfo-ds.{bench.ns}" in messages
        assert f"Copying podinfo-ds.{bench.ns} template spec to podinfo-ds-primary.{bench.ns}" in messages
        target = await bench.api.get(DAEMONSETS, bench.ns, "podinfo-ds")
        assert target["spec"]["template"]["spec"]["nodeSelector"]["flagger.app/scale-to-zero"] == "true"
        # The config change is a new revision too (config tracking).
        await bench.api.merge_patch(CONFIGMAPS, bench.ns, "podinfo-ds-config", {"data": {"color": "green"}})
        await _until(
            bench,
            "green",
            "-n",
            bench.ns,
            "get",
            "configmap/podinfo-ds-config-primary",
            "-o",
            "jsonpath={.data.color}",
        )

        await bench.api.merge_patch(CANARIES, bench.ns, "podinfo-ds", {"spec": {"revertOnDeletion": True}})
        await _until(
            bench,
            "finalizer.flagger.app",
            "get", "canary", "podinfo-ds", "-n", bench.ns, "-o", "jsonpath={.metadata.finalizers}",
        )  # fmt: skip
        done = await kubectl(bench, "delete", "canary", "podinfo-ds", "-n", bench.ns, "--wait=false")
        assert done.returncode == 0, done.stderr
        await _until(
            bench,
            "1",
            "get",
            "daemonset",
            "podinfo-ds",
            "-n",
            bench.ns,
            "-o",
            "jsonpath={.status.numberReady}",
        )
        assert f"Terminated canary podinfo-ds.{bench.ns}" in await bench.messages("podinfo-ds")
    finally:
        if simulator is not None:
            await simulator.stop()
