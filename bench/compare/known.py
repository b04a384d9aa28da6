"""Differences from Flagger that are known, as patterns on the comparison's lines.

`DOCUMENTED`: deliberate, explained in docs/compatibility.md (keep the reasons in step with that page).
`BUGS`: Flagman bugs found by this comparison and reported, not yet fixed; remove an entry once fixed.
Each entry: (scenarios it may appear in, or None for any; a regular expression searched in the difference
line; the reason).
"""

from __future__ import annotations

import re

Entry = tuple[frozenset[str] | None, str, str]

DOCUMENTED: list[Entry] = [
    (
        None,
        r'^status: - .*"failedChecks": 0, .*"phase": "Failed"'
        r'|^status: \+ .*"failedChecks": [1-9]\d*, .*"phase": "Failed"',
        "a rollback keeps failedChecks (Flagger zeroes it) — docs/compatibility.md, state machine",
    ),
    (
        None,
        r'^status: - .*"phase": "WaitingPromotion"'
        r"|^event: - Normal Synced: Advance \S+ canary iteration (\d+)/\1$",
        "a denied confirm-promotion keeps iterations: no N-1/N oscillation, `Advance N/N` once — "
        "docs/compatibility.md, state machine",
    ),
    (
        None,
        r"^event: - \w+ \w+: \(combined from similar events\): ",
        "every event keeps its own message: no client-go aggregation into `(combined from similar events)` "
        "after 10 events of one reason — docs/compatibility.md, measured against Flagger",
    ),
    (
        frozenset({"invalid"}),
        r".",
        "an invalid Canary is refused at once (one Warning, Valid=False, nothing created); Flagger creates "
        "the primary and fails every tick on the API (the emulator does not validate Service ports: there "
        "Flagger initialises it) — docs/compatibility.md, state machine and measured against Flagger",
    ),
    (
        frozenset({"metrics"}),
        r'^metric: - flagger_canary_\w+\{"name": "invalid"',
        "an invalid Canary is never ticked, so it has no per-canary metrics — docs/compatibility.md",
    ),
]

BUGS: list[Entry] = []


# Bugs that only a real kube-apiserver shows (the emulator is more lenient).
CONTROLPLANE_BUGS: list[Entry] = []


def _match(entries: list[Entry], scenario: str, line: str) -> str | None:
    for scenarios, pattern, reason in entries:
        if (scenarios is None or scenario in scenarios) and re.search(pattern, line):
            return reason
    return None


def explain(scenario: str, line: str) -> str | None:
    """Why `line` differs, when docs/compatibility.md says so."""
    return _match(DOCUMENTED, scenario, line)


def known_bug(scenario: str, line: str, backend: str = "") -> str | None:
    """The report of a known Flagman bug that `line` shows (on `backend`, a `Backend.name`)."""
    found = _match(BUGS, scenario, line)
    if found is None and backend.startswith("real control plane"):
        found = _match(CONTROLPLANE_BUGS, scenario, line)
    return found
