"""The analysis history ConfigMap on the sandbox API server: create, patch, cache reads, GC, kubectl."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest

from controller.api import CanaryRef, CanaryStatus, Phase
from controller.errors import KubeError, NotFoundError
from controller.kube.api import CANARIES, CONFIGMAPS, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.history import HISTORY_KEY, KubeHistoryStore, history_configmap_name
from controller.rollout.history import HistoryBook
from sandbox.apiserver.testing import ApiServer, run_kubectl_args
from tests.controller.kube import objects
from tests.controller.kube.support import eventually


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 2, 15, 0, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return 0.0


def _status(phase: Phase, spec: str = "fm1-abc") -> CanaryStatus:
    return CanaryStatus(phase=phase, last_applied_spec=spec, last_transition_time="2026-12-02T15:00:00Z")


async def test_saved_history_is_one_owned_configmap_readable_with_kubectl(
    api: KubeApi, cluster: Cluster, apiserver: ApiServer
) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    ref = CanaryRef.from_body(body)
    store = KubeHistoryStore(api, cluster.configmaps)
    book = HistoryBook(store, _Clock(), runs_kept=3)

    await book.note_status(ref, _status(Phase.PROGRESSING))
    await book.flush(ref)
    await book.note_status(ref, _status(Phase.PROMOTING))
    await book.flush(ref)
    await book.flush(ref)  # nothing changed: no request

    writes = [
        (r.method, r.status) for r in apiserver.request_log if "/configmaps" in r.path and r.method != "GET"
    ]
    assert writes == [("PATCH", 404), ("POST", 201), ("PATCH", 200)]
    stored = await api.get(CONFIGMAPS, "test", "flagman-history-podinfo")
    [owner] = stored["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Canary",
        "podinfo",
        body["metadata"]["uid"],
        False,
    )
    document = json.loads(stored["data"][HISTORY_KEY])
    assert [item["phase"] for item in document["runs"][0]["phases"]] == ["Progressing", "Promoting"]

    # What a user reads with the API (docs/visibility.md).
    argv = ["get", "configmap/flagman-history-podinfo", "-n", "test", "-o", "jsonpath={.data.history\\.json}"]
    shown = subprocess.run(  # noqa: ASYNC221 (the API server runs in its own thread)
        ["kubectl", *run_kubectl_args(apiserver, *argv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(shown.stdout)["canary"]["uid"] == body["metadata"]["uid"]

    # A restarted controller reads it back with one GET: the ConfigMap cache keeps only the configs
    # Canaries track, not histories (they are read once per Canary and controller start).
    gets_before = len([r for r in apiserver.request_log if r.method == "GET" and "/configmaps/" in r.path])
    loaded = await KubeHistoryStore(api, cluster.configmaps).load(ref)
    assert loaded == document
    assert (
        len([r for r in apiserver.request_log if r.method == "GET" and "/configmaps/" in r.path])
        == gets_before + 1
    )
    assert cluster.configmaps.get("test", "flagman-history-podinfo") is None, "not kept in memory"
    # ... and the same without a cache.
    assert await KubeHistoryStore(api).load(ref) == document

    # The ConfigMap goes with its Canary.
    await api.request("DELETE", CANARIES.path("test", "podinfo"))

    async def gone() -> bool | None:
        try:
            await api.get(CONFIGMAPS, "test", "flagman-history-podinfo")
        except NotFoundError:
            return True
        return None

    await eventually(gone, what="the history ConfigMap garbage collected")


async def test_unusable_documents_and_failures(api: KubeApi, apiserver: ApiServer) -> None:
    store = KubeHistoryStore(api)
    ref = CanaryRef(name="podinfo", namespace="test")
    assert await store.load(ref) is None
    await api.create(
        CONFIGMAPS,
        "test",
        {"metadata": {"name": "flagman-history-podinfo"}, "data": {HISTORY_KEY: "{not json"}},
    )
    assert await store.load(ref) is None, "a damaged document starts afresh"
    apiserver.faults.fail("patch", "configmaps", 403)
    with pytest.raises(
        KubeError, match=r"configmap flagman-history-podinfo.test update failed: .*403|forbidden"
    ):
        await store.save(ref, {"version": 1})


def test_long_names_stay_valid_object_names() -> None:
    assert history_configmap_name("podinfo") == "flagman-history-podinfo"
    long = history_configmap_name("x" * 253)
    assert len(long) == 253 and long != history_configmap_name("x" * 252 + "y")
