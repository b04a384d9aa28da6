"""The tables `python -m bench.compare` prints (Markdown, so they can go into bench/README.md as they are)."""

from __future__ import annotations

from bench.compare.behaviour import Run
from bench.compare.cost import CostRow
from bench.compare.diff import differences, judge, sequence


def behaviour(run: Run, backend: str, *, verbose: bool = False) -> bool:
    """Print scenario x verdict and the differences; True when one is not documented."""
    verdicts = []
    print(f"\nBehaviour on the {backend}: Flagger v1.44.0 and Flagman, same flags, same stand-ins")
    print()
    print("| scenario | verdict | Flagger | Flagman |")
    print("|---|---|---|---|")
    for scenario, by_kind in run.outcomes.items():
        flagger, flagman = by_kind["flagger"], by_kind["flagman"]
        verdict = judge(scenario, differences(flagger, flagman), backend)
        verdicts.append(verdict)
        print(
            f"| {scenario} | {verdict.word} | {_story(flagger.story, flagger.seconds)} "
            f"| {_story(flagman.story, flagman.seconds)} |"
        )
    metric_lines = sequence(
        "metric",
        [f"{k} {v}" for k, v in sorted(run.metrics.get("flagger", {}).items())],
        [f"{k} {v}" for k, v in sorted(run.metrics.get("flagman", {}).items())],
    )
    metrics = judge("metrics", metric_lines, backend)
    verdicts.append(metrics)
    print(f"| metrics (/metrics) | {metrics.word} | | |")
    print(f"\ncompare: behaviour run took {run.wall_seconds:.0f} s")
    for verdict in verdicts:
        if verdict.unexplained:
            print(f"\n{verdict.scenario}: differences not in docs/compatibility.md")
            for line in verdict.unexplained:
                print(f"  {line}")
        if verdict.bugs:
            print(f"\n{verdict.scenario}: known Flagman bugs (reported, not yet fixed)")
            for line, report in verdict.bugs:
                print(f"  {line}\n      ({report})")
        if verbose and verdict.documented:
            print(f"\n{verdict.scenario}: documented differences")
            for line, reason in verdict.documented:
                print(f"  {line}\n      ({reason})")
    return any(v.unexplained for v in verdicts)


def _story(story: str, seconds: float) -> str:
    return f"{story} in {seconds:.0f} s" if story == "completed" else story[:80]


def cost(rows: list[CostRow], backend: str) -> None:
    print(f"\nCost of a steady analysis tick on the {backend} (10 s interval)")
    print()
    print(
        "| canaries | controller | CPU ms / step | requests / step | steps done | RSS MiB | late p50 | p99 |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for m in (row.flagger, row.flagman):
            if m is None:
                continue
            print(
                f"| {row.canaries} | {m.kind} | {m.cpu_per_tick * 1000:.1f} | {m.requests_per_tick:.1f} "
                f"| {m.steps_done:.0%} "
                f"| {m.rss_mib:.0f} | {m.lateness_p50:.2f} s | {m.lateness_p99:.2f} s |"
            )
        if row.flagger and row.flagman:
            f, m = row.flagger, row.flagman
            print(
                f"| {row.canaries} | **Flagman / Flagger** | {_ratio(m.cpu_per_tick, f.cpu_per_tick)} "
                f"| {_ratio(m.requests_per_tick, f.requests_per_tick)} "
                f"| {_ratio(m.steps_done, f.steps_done)} | {_ratio(m.rss_mib, f.rss_mib)} "
                f"| {_late_ratio(m.lateness_p50, f.lateness_p50)} "
                f"| {_late_ratio(m.lateness_p99, f.lateness_p99)} |"
            )
    for row in rows:
        for m in (row.flagger, row.flagman):
            if m is not None:
                top = ", ".join(
                    f"{k} {v:.2f}" for k, v in sorted(m.by_verb.items(), key=lambda kv: -kv[1])[:8]
                )
                print(f"N={row.canaries} {m.kind} per step: {top}; load average {m.load_average}; {m.note}")


def _late_ratio(a: float, b: float) -> str:
    """A ratio of lateness means something only when both are late (scheduler jitter is ±50 ms)."""
    return _ratio(a, b) if a > 0.05 and b > 0.05 else "-"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"
