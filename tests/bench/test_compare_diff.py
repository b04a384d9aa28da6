"""bench.compare's normalisation and verdicts: what counts as the same behaviour, what as a difference."""

from __future__ import annotations

from bench.compare import diff, known, normalise
from bench.compare.behaviour import Outcome
from bench.compare.trace import Event, Status


def outcome(
    events: list[str], phases: list[str], objects: dict[str, dict[str, object]] | None = None
) -> Outcome:
    return Outcome("completed", phases, events, [], objects or {}, 1.0)


def test_namespace_times_and_repeats_are_normalised_away() -> None:
    flagger = [Event(1.0, "Normal", "Synced", "Advance app.cmp-flagger-1 canary iteration 1/2")] * 3
    flagman = [Event(5.0, "Normal", "Synced", "Advance app.cmp-flagman-1 canary iteration 1/2")]
    assert normalise.events(flagger, "cmp-flagger-1") == normalise.events(flagman, "cmp-flagman-1")
    a = Status(
        0.0, {"phase": "Progressing", "lastTransitionTime": "2026-01-01T00:00:00Z", "lastAppliedSpec": "1"}
    )
    b = Status(
        9.0, {"phase": "Progressing", "lastTransitionTime": "2027-01-01T00:00:00Z", "lastAppliedSpec": "f"}
    )
    assert normalise.statuses([a], "x") == normalise.statuses([b], "y")


def test_a_different_event_or_object_field_is_reported_and_judged() -> None:
    lines = diff.differences(
        outcome(["Normal Synced: Initialization done! app.<ns>"], ["Initialized"], {"Service/app": {"a": 1}}),
        outcome(["Normal Synced: Initialization done! app.<ns>", "Warning Synced: extra"], ["Initialized"],
                {"Service/app": {"a": 2}}),
    )  # fmt: skip
    assert lines == ["event: + Warning Synced: extra", "object: Service/app.a: 1 != 2"]
    verdict = diff.judge("promotion", lines)
    assert verdict.word == "DIFFERENT (2)" or verdict.documented  # unknown unless known.py explains it
    assert diff.judge("promotion", []).word == "same"


def test_every_documented_pattern_compiles_and_names_a_reason() -> None:
    import re

    for scenarios, pattern, reason in known.DOCUMENTED:
        re.compile(pattern)
        assert reason and (scenarios is None or scenarios)


def test_metrics_keep_flagger_samples_of_the_namespace_only() -> None:
    exposition = (
        "# TYPE flagger_canary_status gauge\n"
        'flagger_canary_status{name="app",namespace="ns1"} 1\n'
        'flagger_canary_status{name="app",namespace="other"} 2\n'
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n"
    )
    assert normalise.metrics(exposition, "ns1") == {
        'flagger_canary_status{"name": "app", "namespace": "<ns>"}': "1"
    }
