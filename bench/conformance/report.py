"""The figure and the breakdown: requests with identical outcome / requests replayed, differences by kind."""

from __future__ import annotations

import collections
import json
import pathlib
import re
from typing import Any

from .replay import Result

# Reported apart: wording is for people, and no client branches on it.
INFORMATIONAL = {"error message"}
EXAMPLES_PER_KIND = 6


def counted(result: Result) -> list[str]:
    return sorted({d.kind for d in result.differences if d.kind not in INFORMATIONAL})


def summary(results: list[Result]) -> dict[str, Any]:
    replayed = [r for r in results if not r.skipped]
    same = [r for r in replayed if not counted(r)]
    same_with_messages = [r for r in replayed if not r.differences]
    skipped = collections.Counter(r.skipped for r in results if r.skipped)
    by_kind: collections.Counter[str] = collections.Counter()
    details: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for result in replayed:
        for difference in result.differences:
            by_kind[difference.kind] += 1
            details[difference.kind][_generic(difference.detail)] += 1
    return {
        "recorded": len(results),
        "replayed": len(replayed),
        "identical": len(same),
        "identical_with_messages": len(same_with_messages),
        "skipped": dict(skipped.most_common()),
        "differences": {
            kind: {"requests": count, "examples": dict(details[kind].most_common(EXAMPLES_PER_KIND))}
            for kind, count in by_kind.most_common()
        },
        "tests": sorted({r.test for r in results}),
    }


def _generic(detail: str) -> str:
    """Details grouped across sessions: session namespaces and random name suffixes look alike."""
    return re.sub(r"\b[a-z0-9]+-[bcdfghjklmnpqrstvwxz2456789]{5}\b", "<generated>", detail)


def render(data: dict[str, Any]) -> str:
    replayed, identical = data["replayed"], data["identical"]
    share = 100.0 * identical / replayed if replayed else 0.0
    lines = [
        f"conformance: {identical}/{replayed} replayed requests with identical outcome ({share:.1f} %)",
        f"  also identical error messages: {data['identical_with_messages']}/{replayed}",
        f"  recorded {data['recorded']} requests in {len(data['tests'])} tests; not replayed "
        f"{data['recorded'] - replayed}:",
    ]
    lines += [f"    {count:5d}  {reason}" for reason, count in data["skipped"].items()]
    lines.append("  differences by kind (requests; a request can show several):")
    for kind, entry in data["differences"].items():
        note = " (not counted)" if kind in INFORMATIONAL else ""
        lines.append(f"    {entry['requests']:5d}  {kind}{note}")
        for example, count in entry["examples"].items():
            lines.append(f"           {count:4d} x {example[:160]}")
    return "\n".join(lines)


def write_json(path: pathlib.Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
