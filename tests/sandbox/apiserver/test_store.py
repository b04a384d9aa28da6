"""The store's watch fan-out: each watch gets the events of its own storage and selection, and wakes."""

from __future__ import annotations

import asyncio

from sandbox.apiserver.selectors import FieldSelector, LabelSelector, Selection
from sandbox.apiserver.store import Store


def everything(namespace: str | None = None) -> Selection:
    return Selection(namespace, LabelSelector.parse(None), FieldSelector.parse(None, "ConfigMap", ()))


def configmap(name: str, namespace: str = "default", **labels: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


async def test_events_reach_only_the_watches_of_their_storage_and_selection() -> None:
    store = Store()
    configmaps = store.open_watch("/configmaps", everything())
    in_test = store.open_watch("/configmaps", everything("test"))
    secrets = store.open_watch("/secrets", everything())
    store.put("/configmaps", configmap("a"))
    store.put("/configmaps", configmap("b", "test"))
    assert [(e.type, e.obj["metadata"]["name"]) for e in configmaps.pending] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    assert [e.obj["metadata"]["name"] for e in in_test.pending if e is not None] == ["b"]
    assert not secrets.pending
    store.close_watch(configmaps)
    store.put("/configmaps", configmap("c"))
    assert len(configmaps.pending) == 2  # closed: nothing more
    assert store.watchers == {in_test, secrets}


async def test_a_waiting_stream_wakes_for_an_event_a_drop_or_its_timer() -> None:
    store = Store()
    watcher = store.open_watch("/configmaps", everything())
    waiting = asyncio.create_task(watcher.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    store.put("/configmaps", configmap("a"))
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(watcher.wait(), 1)  # an event is pending: no wait at all
    watcher.pending.clear()
    waiting = asyncio.create_task(watcher.wait())
    asyncio.get_running_loop().call_later(0.01, watcher.wake)  # what the stream's timer does
    await asyncio.wait_for(waiting, 1)
    assert not watcher.pending
    assert store.drop_watches("/configmaps") == 1
    assert list(watcher.pending) == [None]


async def test_a_label_selected_watch_sees_objects_enter_and_leave_its_selection() -> None:
    store = Store()
    selected = Selection(None, LabelSelector.parse("app=a"), FieldSelector.parse(None, "ConfigMap", ()))
    labelled = store.open_watch("/configmaps", selected)
    namespaced = store.open_watch("/configmaps", everything("default"))
    store.put("/configmaps", configmap("x"))
    store.put("/configmaps", configmap("x", app="a"))
    store.put("/configmaps", configmap("x", app="a", more="1"))
    store.put("/configmaps", configmap("x", app="b"))
    assert [e.type for e in labelled.pending if e is not None] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e.type for e in namespaced.pending if e is not None] == [
        "ADDED",
        "MODIFIED",
        "MODIFIED",
        "MODIFIED",
    ]
