"""A self-contained HTML report of one analysis run: inline CSS and SVG, no script, no network."""

from __future__ import annotations

import html
import pathlib
import re
from dataclasses import dataclass

from dashboard.history import History, Run
from dashboard.plots import metric_svg, run_image, timeline_svg

STYLE = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:60em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
.Succeeded{color:#2ca02c}.Failed,.fail{color:#d62728}.Superseded{color:#7f7f7f}.Running{color:#2b7bba}
.plot svg{max-width:100%;height:auto}
"""


@dataclass(frozen=True)
class ReportFiles:
    html: pathlib.Path
    svgs: tuple[pathlib.Path, ...]


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(headers: list[str], rows: list[list[str]], *, row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{_e((row_classes or [""] * len(rows))[i])}">'
        + "".join(f"<td>{_e(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _band(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "no threshold"
    parts = [f"≥ {low:g}{unit}" if low is not None else "", f"≤ {high:g}{unit}" if high is not None else ""]
    return " and ".join(part for part in parts if part)


def render_html(history: History, run: Run) -> str:
    """The report page for ``run`` of ``history``."""
    title = f"{history.name}.{history.namespace} analysis run {run.number}"
    sections = [
        f'<h1>{_e(title)}: <span class="{_e(run.status)}" id="outcome">{_e(run.status)}</span></h1>',
        *run_sections(run),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def run_sections(run: Run) -> list[str]:
    """The body of a run's report (also the dashboard's analysis panel)."""
    sections = [
        f'<p>run {run.number} (<span class="{_e(run.status)}">{_e(run.status)}</span>), '
        f"revision <code>{_e(run.revision)}</code>, started {_e(run.started)}"
        + (f", ended {_e(run.ended)}" if run.ended else ", still running")
        + "</p>",
        "<h2>Phases</h2>",
        f'<div class="plot" id="timeline">{timeline_svg(run)}</div>',
        _table(["phase", "at"], [[p.phase, p.at] for p in run.phases]),
        "<h2>Metrics</h2>",
    ]
    if not run.metrics:
        sections.append("<p>No metric value was recorded in this run.</p>")
    for series in run.metrics:
        failed = sum(1 for p in series.points if not p.passed)
        sections.append(
            f'<h3 id="metric-{_e(series.name)}">{_e(series.name)}</h3>'
            f"<p>band: {_e(_band(series.min, series.max, series.unit))}; {len(series.points)} checks, "
            f'<span class="{"fail" if failed else ""}">{failed} failed</span></p>'
            f'<div class="plot">{metric_svg(series)}</div>'
        )
    sections.append("<h2>Webhooks</h2>")
    sections.append(
        _table(
            ["at", "iteration", "name", "type", "phase", "duration", "result"],
            [
                [
                    c.at,
                    str(c.iteration),
                    c.name,
                    c.type,
                    c.phase,
                    f"{c.duration_seconds:.3f}s",
                    "passed" if c.passed else f"failed: {c.error}",
                ]
                for c in run.webhooks
            ],
            row_classes=["" if c.passed else "fail" for c in run.webhooks],
        )
        if run.webhooks
        else "<p>No webhook was called in this run.</p>"
    )
    sections.append("<h2>Events</h2>")
    sections.append(
        _table(
            ["at", "type", "message"],
            [[e.at, e.type, e.message] for e in run.events],
            row_classes=["fail" if e.type == "Warning" else "" for e in run.events],
        )
    )
    return sections


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "metric"


def report_stem(history: History, run: Run) -> str:
    """``{name}-run{N}``: the default name of a run's report files."""
    return f"{_slug(history.name)}-run{run.number}"


def write_report(history: History, run: Run, directory: pathlib.Path, stem: str | None = None) -> ReportFiles:
    """``{stem}.html`` plus one SVG per plot (the same plots as inlined) in ``directory``; the stem is
    ``{name}-run{N}`` by default."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = stem or report_stem(history, run)
    page = directory / f"{stem}.html"
    page.write_text(render_html(history, run), encoding="utf-8")
    svgs = [directory / f"{stem}-timeline.svg"]
    svgs[0].write_text(timeline_svg(run), encoding="utf-8")
    for series in run.metrics:
        path = directory / f"{stem}-{_slug(series.name)}.svg"
        path.write_text(metric_svg(series), encoding="utf-8")
        svgs.append(path)
    return ReportFiles(page, tuple(svgs))


def write_image(history: History, run: Run, path: pathlib.Path, kind: str) -> pathlib.Path:
    """The whole run as one ``png`` or ``svg`` image at ``path`` (see :func:`dashboard.plots.run_image`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(run_image(history, run, kind))
    return path
