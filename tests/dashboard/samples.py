"""History documents as the controller writes them (docs/visibility.md), for the dashboard tests."""

from __future__ import annotations

from typing import Any


def history_document(
    *, name: str = "podinfo", namespace: str = "test", outcome: str | None = "Failed"
) -> dict[str, Any]:
    durations = [210.0, 230.0, 720.0, 690.0]
    return {
        "version": 1,
        "canary": {"name": name, "namespace": namespace, "uid": "u1"},
        "runs": [
            {
                "number": 4,
                "revision": "fm1-abc",
                "started": "2026-12-02T15:00:00Z",
                "ended": None if outcome is None else "2026-12-02T15:02:10Z",
                "outcome": outcome,
                "phases": [
                    {"phase": "Progressing", "at": "2026-12-02T15:00:00Z"},
                    *([{"phase": outcome, "at": "2026-12-02T15:02:10Z"}] if outcome else []),
                ],
                "metrics": {
                    "request-duration": {
                        "unit": "ms",
                        "min": None,
                        "max": 500,
                        "points": [
                            {
                                "iteration": i + 1 if value <= 500 else 3,
                                "at": f"2026-12-02T15:0{i}:30Z",
                                "value": value,
                                "passed": value <= 500,
                                "failedChecks": max(0, i - 2),
                            }
                            for i, value in enumerate(durations)
                        ],
                    },
                    "request-success-rate": {
                        "unit": "%",
                        "min": 99,
                        "max": None,
                        "points": [
                            {
                                "iteration": 1,
                                "at": "2026-12-02T15:00:30Z",
                                "value": 99.5,
                                "passed": True,
                                "failedChecks": 0,
                            }
                        ],
                    },
                },
                "webhooks": [
                    {
                        "name": "load-test",
                        "type": "rollout",
                        "phase": "Progressing",
                        "at": "2026-12-02T15:00:30Z",
                        "iteration": 1,
                        "durationSeconds": 0.25,
                        "passed": True,
                        "error": "",
                    },
                    {
                        "name": "smoke<script>",
                        "type": "pre-rollout",
                        "phase": "Progressing",
                        "at": "2026-12-02T15:00:00Z",
                        "iteration": 0,
                        "durationSeconds": 1.5,
                        "passed": False,
                        "error": "exit status 1",
                    },
                ],
                "events": [
                    {
                        "at": "2026-12-02T15:01:30Z",
                        "type": "Warning",
                        "message": "Halt podinfo.test advancement request duration 720ms > 500ms",
                    },
                ],
            }
        ],
    }


def two_runs() -> dict[str, Any]:
    """Run 3 (Succeeded, one metric, no failure) kept before run 4 (still running)."""
    document = history_document(outcome=None)
    earlier = history_document(outcome="Succeeded")["runs"][0]
    earlier.update(number=3, revision="fm1-old", started="2026-12-02T14:00:00Z")
    del earlier["metrics"]["request-duration"]
    document["runs"].insert(0, earlier)
    return document
