"""The recorder's per-Canary event budget (client-go's spam filter, without dropping what matters),
against the sandbox API server over loopback HTTP; time is the recorder's injected clock."""

from __future__ import annotations

import dataclasses
from typing import Any

from controller.api import Canary, CanaryStatus, Phase
from controller.kube.api import CANARIES, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.recorder import EVENT_BURST, EVENT_REFILL_SECONDS, KubeRecorder, TokenBucket
from controller.kube.status import KubeStatusStore
from controller.rollout.ports import Event
from tests.controller.kube import objects


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _in_phase(canary: Canary, phase: Phase, resource_version: str) -> Canary:
    """The Canary as a tick sees it: read at `resource_version`, its status now in `phase`."""
    ref = dataclasses.replace(canary.ref, resource_version=resource_version)
    return Canary(ref=ref, spec=canary.spec, status=CanaryStatus(phase=phase), metadata=canary.metadata)


async def _notes(api: KubeApi) -> list[tuple[str, str, int]]:
    listing = await api.request("GET", "/apis/events.k8s.io/v1/namespaces/test/events")
    items = sorted(listing["items"], key=lambda item: str(item["eventTime"]))
    return [(item["type"], item["note"], (item.get("series") or {}).get("count", 1)) for item in items]


def test_the_bucket_refills_one_token_per_period_up_to_its_capacity() -> None:
    bucket = TokenBucket(capacity=2, refill_seconds=300.0, tokens=2.0, updated=0.0)
    assert [bucket.try_take(0.0) for _ in range(3)] == [True, True, False]
    assert not bucket.try_take(299.0)
    assert bucket.try_take(300.0) and not bucket.try_take(300.0)
    assert [bucket.try_take(10_000.0) for _ in range(3)] == [True, True, False]  # never above capacity


async def test_a_long_analysis_writes_the_first_25_events_then_one_per_5_minutes(api: KubeApi) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = Canary.from_dict(body)
    sent: list[str] = []

    async def sender(canary: Canary, hook: Any, phase: str, event_type: str, message: str) -> None:
        sent.append(message)

    clock = Clock()
    recorder = KubeRecorder(
        api, event_sender=sender, global_event_webhook="http://127.0.0.1:1/events", clock=clock
    )
    assert (EVENT_BURST, EVENT_REFILL_SECONDS) == (
        25,
        300.0,
    )  # client-go's defaultSpamBurst, 1/defaultSpamQPS
    advances = [f"Advance podinfo.test canary iteration {i}/40" for i in range(1, 41)]
    for tick, message in enumerate(advances[:30]):
        await recorder.event(_in_phase(canary, Phase.PROGRESSING, f"rv{tick}"), Event.normal(message))
    notes = await _notes(api)
    assert [note for _, note, _ in notes] == advances[:25]
    assert recorder.events_skipped == 5
    clock.now += EVENT_REFILL_SECONDS  # one token back
    for tick, message in enumerate(advances[30:32], start=30):
        await recorder.event(_in_phase(canary, Phase.PROGRESSING, f"rv{tick}"), Event.normal(message))
    assert [note for _, note, _ in await _notes(api)] == [*advances[:25], advances[30]]
    await recorder.flush()
    await recorder.close()
    assert sent == advances[:32]  # the event webhooks get every event; so does the log


async def test_warnings_and_the_events_of_a_phase_change_are_written_without_tokens(api: KubeApi) -> None:
    """Flagger's bucket, once drained by a long analysis, also drops `Promotion completed!` and the
    rollback's events; here they are always written."""
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = Canary.from_dict(body)
    recorder = KubeRecorder(api, event_burst=2, clock=Clock())
    progressing = _in_phase(canary, Phase.PROGRESSING, "rv1")
    for i in range(1, 4):
        await recorder.event(progressing, Event.normal(f"Advance podinfo.test canary iteration {i}/3"))
    halt = "Halt podinfo.test advancement success rate 61.39% < 99%"
    await recorder.event(progressing, Event.warning(halt))
    await recorder.event(progressing, Event.warning(halt))  # a repeat: the series counts it
    # A tick that writes Succeeded, then records a post-rollout check and the promotion.
    succeeded = _in_phase(canary, Phase.SUCCEEDED, "rv2")
    await recorder.event(succeeded, Event.normal("Post-rollout check smoke passed"))
    await recorder.event(succeeded, Event.normal("Promotion completed! Scaling down podinfo.test"))
    # The new phase refilled the bucket (2 tokens); the next ticks, same phase, draw on it again.
    for tick in (3, 4, 5):
        idle = _in_phase(canary, Phase.SUCCEEDED, f"rv{tick}")
        await recorder.event(idle, Event.normal(f"Post-rollout idle {tick}"))
    # A rollback: an event given the phase it leads to is written before the phase is.
    failing = _in_phase(canary, Phase.PROGRESSING, "rv4")
    await recorder.event(
        failing, Event.warning("Canary failed! Scaling down podinfo.test", phase=Phase.FAILED)
    )
    await recorder.close()
    assert await _notes(api) == [
        ("Normal", "Advance podinfo.test canary iteration 1/3", 1),
        ("Normal", "Advance podinfo.test canary iteration 2/3", 1),
        ("Warning", halt, 2),
        ("Normal", "Post-rollout check smoke passed", 1),
        ("Normal", "Promotion completed! Scaling down podinfo.test", 1),
        ("Normal", "Post-rollout idle 3", 1),
        ("Normal", "Post-rollout idle 4", 1),
        ("Warning", "Canary failed! Scaling down podinfo.test", 1),
    ]
    assert recorder.events_skipped == 2  # iteration 3/3 and the third idle event


async def test_a_repeat_left_out_is_still_counted_by_the_next_write(api: KubeApi) -> None:
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = _in_phase(Canary.from_dict(body), Phase.PROGRESSING, "rv1")
    clock = Clock()
    recorder = KubeRecorder(api, event_burst=1, clock=clock)
    waiting = "waiting for approval podinfo.test"
    for _ in range(3):
        await recorder.event(canary, Event.normal(waiting))
    assert await _notes(api) == [("Normal", waiting, 1)]
    clock.now += EVENT_REFILL_SECONDS
    await recorder.event(canary, Event.normal(waiting))
    await recorder.close()
    assert await _notes(api) == [("Normal", waiting, 4)]  # one object, counting every occurrence


async def test_warnings_leave_the_tokens_to_the_normal_events(api: KubeApi) -> None:
    """A rollout that waits repeats its Warning every tick; that must not use up the analysis' events."""
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = _in_phase(Canary.from_dict(body), Phase.PROGRESSING, "rv1")
    recorder = KubeRecorder(api, event_burst=2, clock=Clock())
    waiting = "canary deployment podinfo.test not ready: waiting for rollout to finish: 0 of 2"
    for _ in range(5):
        await recorder.event(canary, Event.warning(waiting))
    await recorder.event(canary, Event.normal("Starting canary analysis for podinfo.test"))
    await recorder.event(canary, Event.normal("Advance podinfo.test canary iteration 1/3"))
    await recorder.close()
    assert await _notes(api) == [
        ("Warning", waiting, 5),
        ("Normal", "Starting canary analysis for podinfo.test", 1),
        ("Normal", "Advance podinfo.test canary iteration 1/3", 1),
    ]


async def test_an_event_refused_before_the_phase_is_written_in_the_same_tick_is_written_then(
    api: KubeApi, cluster: Cluster
) -> None:
    """`Copying ... template spec` comes before the write of Promoting: the status store reports the new
    phase, and what the recorder held back in that tick is written, at its own time, in order."""
    body = await api.create(CANARIES, "test", objects.tutorial_canary())
    canary = Canary.from_dict(body)
    recorder = KubeRecorder(api, event_burst=1, clock=Clock())
    store = KubeStatusStore(cluster, on_phase_written=recorder.phase_written)
    await recorder.event(_in_phase(canary, Phase.PROGRESSING, "t1"), Event.normal("Advance 1/1"))
    promoting = _in_phase(canary, Phase.PROGRESSING, "t2")
    await recorder.event(promoting, Event.normal("Copying podinfo.test template spec"))
    assert [note for _, note, _ in await _notes(api)] == ["Advance 1/1"]  # no token left: held
    await store.write(promoting.ref, CanaryStatus(phase=Phase.PROMOTING))
    promoted = _in_phase(canary, Phase.PROMOTING, "t2")  # the tick's Canary after its write
    await recorder.event(promoted, Event.normal("Scaling up the primary"))  # later in the same tick
    # A tick that writes no new phase: the refilled token goes, what it was refused is dropped at the next.
    same = _in_phase(canary, Phase.PROMOTING, "t3")
    await recorder.event(same, Event.normal("Waiting for the primary"))
    await recorder.event(same, Event.normal("Waiting for the primary, again"))
    await store.write(same.ref, CanaryStatus(phase=Phase.PROMOTING, iterations=1))
    later = _in_phase(canary, Phase.PROMOTING, "t4")
    await recorder.event(later, Event.normal("Still waiting for the primary"))
    await store.write(later.ref, CanaryStatus(phase=Phase.FINALISING))
    await recorder.close()
    assert [note for _, note, _ in await _notes(api)] == [
        "Advance 1/1",
        "Copying podinfo.test template spec",
        "Scaling up the primary",
        "Waiting for the primary",
        "Still waiting for the primary",
    ]
    assert recorder.events_skipped == 3
