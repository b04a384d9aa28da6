"""Differences between Flagger's and Flagman's normalised records, and the verdict on each scenario.

A difference is one line, `<aspect>: <what>`; one that matches an entry of `known.DOCUMENTED` is a documented
difference (docs/compatibility.md says why), any other makes the scenario DIFFERENT.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from bench.compare.behaviour import Outcome
from bench.compare.known import explain, known_bug

COMBINED = "(combined from similar events): "


@dataclass
class Verdict:
    scenario: str
    documented: list[tuple[str, str]] = field(default_factory=list)  # (difference, reason)
    bugs: list[tuple[str, str]] = field(default_factory=list)  # (difference, report)
    unexplained: list[str] = field(default_factory=list)

    @property
    def word(self) -> str:
        if self.unexplained:
            return f"DIFFERENT ({len(self.unexplained)})"
        if self.bugs:
            return f"Flagman bug ({len(self.bugs)} lines)" + (
                f", documented ({len(self.documented)})" if self.documented else ""
            )
        if self.documented:
            return f"documented ({len(self.documented)})"
        return "same"


def sequence(aspect: str, flagger: list[str], flagman: list[str]) -> list[str]:
    """Lines only Flagger showed (`-`) or only Flagman showed (`+`), in order."""
    out = []
    for line in difflib.unified_diff(flagger, flagman, lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        out.append(f"{aspect}: {line[0]} {line[1:]}")
    return out


def structure(aspect: str, flagger: Any, flagman: Any, path: str = "") -> list[str]:
    """Leaf-by-leaf differences of two JSON values: `<aspect>: <path>: <flagger> != <flagman>`."""
    if isinstance(flagger, dict) and isinstance(flagman, dict):
        out = []
        for key in sorted(set(flagger) | set(flagman)):
            out += structure(
                aspect, flagger.get(key, "<absent>"), flagman.get(key, "<absent>"), f"{path}.{key}"
            )
        return out
    if isinstance(flagger, list) and isinstance(flagman, list) and len(flagger) == len(flagman):
        out = []
        for index, (a, b) in enumerate(zip(flagger, flagman, strict=True)):
            out += structure(aspect, a, b, f"{path}[{index}]")
        return out
    if flagger == flagman:
        return []
    theirs, ours = json.dumps(flagger, sort_keys=True), json.dumps(flagman, sort_keys=True)
    return [f"{aspect}: {path.lstrip('.')}: {theirs} != {ours}"]


def differences(flagger: Outcome, flagman: Outcome) -> list[str]:
    out = []
    if flagger.story != flagman.story:
        out.append(f"story: flagger {flagger.story} / flagman {flagman.story}")
    out += sequence("status", flagger.statuses, flagman.statuses)
    out += sequence("event", flagger.events, flagman.events)
    out += sequence("webhook", flagger.webhooks, flagman.webhooks)
    out += structure("object", flagger.objects, flagman.objects)
    return out


def judge(scenario: str, lines: list[str], backend: str = "") -> Verdict:
    verdict = Verdict(scenario)
    # Flagger's `- (combined from similar events): X` has Flagman's `+ X` as its counterpart.
    combined = {
        line.replace(COMBINED, "").replace("event: - ", "event: + ", 1): line
        for line in lines
        if COMBINED in line
    }
    for line in lines:
        reason = explain(scenario, combined.get(line, line))
        bug = known_bug(scenario, line, backend)
        if bug is not None:  # first: a line a bug explains says nothing about a documented difference
            verdict.bugs.append((line, bug))
        elif reason is not None:
            verdict.documented.append((line, reason))
        else:
            verdict.unexplained.append(line)
    return verdict
