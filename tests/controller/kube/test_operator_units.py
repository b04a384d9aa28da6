"""Pieces of the operator, recorder and CLI that need no API server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from controller.api import CanaryRef
from controller.cli import ZapLikeJsonFormatter, main
from controller.errors import NotFoundError
from controller.kube.cluster import Cluster
from controller.kube.recorder import event_object
from controller.operator import CanaryLoops, Controller, _looks_ready, analysis_interval
from controller.rollout.revision import template_hash
from controller.settings import Settings
from tests.controller.kube import objects


def test_analysis_interval_defaults_and_minimum() -> None:
    canary = objects.tutorial_canary(interval="30s")
    assert analysis_interval(canary, minimum=10) == 30
    assert analysis_interval(canary, minimum=60) == 60
    assert analysis_interval(objects.tutorial_canary(interval="200ms"), minimum=0.05) == 0.2
    invalid = objects.tutorial_canary(interval="300ms")
    invalid["spec"]["service"]["port"] = 0  # invalid Canary: the raw interval is still honoured
    assert analysis_interval(invalid, minimum=0.05) == 0.3
    no_interval = objects.tutorial_canary()
    del no_interval["spec"]["analysis"]["interval"]
    assert analysis_interval(no_interval, minimum=10) == 60
    assert analysis_interval({}, minimum=10) == 60


def _ready(name: str, *, generation: int = 2, observed: int = 2, available: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "test", "generation": generation},
        "spec": {"replicas": 1, "template": {}},
        "status": {
            "observedGeneration": observed,
            "replicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": available,
        },
    }


def test_looks_ready() -> None:
    assert _looks_ready(_ready("p"))
    assert not _looks_ready(_ready("p", observed=1))
    assert not _looks_ready(_ready("p", available=0))


class _Cache:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def items(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._items

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next((i for i in self._items if i["metadata"]["name"] == name), None)


def _controller(
    canaries: list[dict[str, Any]], deployments: list[dict[str, Any]] | None = None
) -> Controller:
    cluster = Cluster.__new__(Cluster)
    cluster.canaries = _Cache(canaries)  # type: ignore[assignment]
    cluster.deployments = _Cache(deployments or [])  # type: ignore[assignment]
    controller = Controller.__new__(Controller)
    controller.cluster = cluster
    controller.settings = Settings()
    controller.wakeups = {}
    controller.last_tick = {}
    controller.intervals = {}
    controller.started_at = 0.0
    return controller


async def test_wakeups_only_when_waiting_adds_nothing_but_latency() -> None:
    template = {"spec": {"containers": [{"name": "c", "image": "v1"}]}}
    canary = objects.tutorial_canary()
    canary["metadata"]["namespace"] = "test"
    canary["status"] = {
        "phase": "Succeeded",
        "lastAppliedSpec": template_hash(template),
        "lastPromotedSpec": "",
    }
    controller = _controller([canary])
    wake = controller.wakeups.setdefault("podinfo.test", asyncio.Event())
    target: dict[str, Any] = {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"template": template},
    }
    controller.on_deployment_change("MODIFIED", target)  # same template: nothing to do
    assert not wake.is_set()
    target["spec"]["template"] = {"spec": {"containers": [{"name": "c", "image": "v2"}]}}
    controller.on_deployment_change("MODIFIED", target)
    assert wake.is_set()

    wake.clear()
    canary["status"]["phase"] = "Progressing"  # analysis running: the interval decides
    controller.on_deployment_change("MODIFIED", target)
    assert not wake.is_set()

    canary["status"]["phase"] = "Promoting"
    controller.on_deployment_change("MODIFIED", _ready("podinfo-primary", observed=1))
    assert not wake.is_set()
    controller.on_deployment_change("MODIFIED", _ready("podinfo-primary"))
    assert wake.is_set()


def test_next_tick_is_due_for_finalising_and_ready_promotions() -> None:
    canary = objects.tutorial_canary()
    canary["status"] = {"phase": "Finalising"}
    controller = _controller([canary], [_ready("podinfo-primary")])
    assert controller._next_tick_is_due(canary)
    canary["status"]["phase"] = "Promoting"
    assert controller._next_tick_is_due(canary)
    assert not _controller([canary], [_ready("podinfo-primary", available=0)])._next_tick_is_due(canary)
    canary["status"]["phase"] = "Progressing"
    assert not controller._next_tick_is_due(canary)


def test_event_object_shape() -> None:
    ref = CanaryRef(name="podinfo", namespace="test", uid="u-1", resource_version="7")
    event = event_object(ref, "Warning", "é" * 600, "flagman-host")
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert (event["reason"], event["action"], event["reportingController"]) == ("Synced", "Synced", "flagger")
    assert event["regarding"] == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": "test",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert len(event["note"].encode()) <= 1024 and event["note"].endswith("...")
    assert event["eventTime"].endswith("Z") and "." in event["eventTime"]


def test_json_log_lines_have_zaps_keys_and_the_canary() -> None:
    formatter = ZapLikeJsonFormatter("%(message)s")
    record = logging.LogRecord("controller", logging.WARNING, "x.py", 7, "Halt %s", ("now",), None)
    record.canary = "podinfo.test"
    line = json.loads(formatter.format(record))
    assert line["level"] == "warn" and line["msg"] == "Halt now" and line["canary"] == "podinfo.test"
    assert isinstance(line["ts"], float) and line["caller"].endswith(":7")


def test_user_agent_identifies_the_controller() -> None:
    from controller.kube.api import USER_AGENT

    assert USER_AGENT.startswith("flagman-controller/")


def test_liveness_reports_canaries_without_a_loop_and_stalled_loops() -> None:
    old = {"metadata": {"name": "old", "namespace": "test", "creationTimestamp": "2020-01-01T00:00:00Z"}}
    fresh = {"metadata": {"name": "fresh", "namespace": "test", "creationTimestamp": "2999-01-01T00:00:00Z"}}
    going = {
        "metadata": {
            "name": "going",
            "namespace": "test",
            "creationTimestamp": "2020-01-01T00:00:00Z",
            "deletionTimestamp": "2020-01-02T00:00:00Z",
        }
    }
    controller = _controller([old, fresh, going])
    assert controller.canaries_without_loop() == "canaries without a loop: old.test"
    controller.last_tick["old.test"] = time.monotonic()
    assert controller.canaries_without_loop() is None
    assert controller.stalled_daemons() is None
    controller.last_tick["old.test"] = time.monotonic() - 3600
    assert controller.stalled_daemons() == "canary loops stalled: old.test"


def test_cli_answers_version_help_and_bad_flags_without_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-version"], {}) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
    assert main(["--help"], {}) == 0
    assert "-min-analysis-interval" in capsys.readouterr().out
    assert main(["-mesh-provider=istio"], {}) == 2
    assert "Flagman does not implement" in capsys.readouterr().err
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # this one configures logging, then fails to connect
        assert main(["--kubeconfig=/nonexistent/kubeconfig", "-log-format=text"], {}) == 1
    finally:
        root.handlers[:], root.level = handlers, level


class _ApiKnowing:
    """`KubeApi.get` for Canaries: the names in `existing` exist, the others answer 404."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.gets: list[str] = []

    async def get(self, resource: object, namespace: str, name: str) -> dict[str, Any]:
        self.gets.append(f"{name}.{namespace}")
        if name not in self.existing:
            raise NotFoundError(f'canaries.flagger.app "{name}" not found')
        return {"metadata": {"name": name, "namespace": namespace}}


async def test_loops_of_canaries_deleted_unseen_are_retired_by_the_sweep() -> None:
    """kopf replays no DELETED missed during a 410 relist: the sweep ends such loops after a 404."""
    listed = {"metadata": {"name": "listed", "namespace": "test", "uid": "u1"}}
    controller = _controller([listed])
    api = _ApiKnowing({"listed", "brand.new"})
    controller.api = api  # type: ignore[assignment]
    stopped: list[str] = []

    async def run(ref: CanaryRef, stop: Any) -> None:
        await stop.wait(60)
        stopped.append(ref.key)

    controller.loops = CanaryLoops(run, grace_seconds=1.0)
    for name, uid in (("listed", "u1"), ("brand.new", "u2"), ("vanished", "u3")):
        controller.loops.ensure(CanaryRef(name=name, namespace="test", uid=uid))
    await asyncio.sleep(0)

    await controller.retire_vanished_loops()
    assert api.gets == ["brand.new.test", "vanished.test"]  # only what the cache lacks is checked
    assert sorted(controller.loops.running()) == ["brand.new.test", "listed.test"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert stopped == ["vanished.test"]  # its loop saw the stop flag and ended

    await controller.loops.stop_all()
    assert sorted(stopped) == ["brand.new.test", "listed.test", "vanished.test"]
