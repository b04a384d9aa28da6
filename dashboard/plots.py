"""Plots of one run as inline SVG (matplotlib, the Agg-free SVG backend: no display, no network).

Text is drawn as paths (matplotlib's default ``svg.fonttype``), so the SVG needs no font and renders the
same everywhere; the hash salt is fixed so the same run gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from dashboard.history import MetricSeries, Run, parse_time

try:
    import matplotlib

    matplotlib.use("svg")
    from matplotlib import pyplot
    from matplotlib.figure import Figure
except ModuleNotFoundError as error:  # an optional dependency: say how to get it
    raise ModuleNotFoundError(
        "the report needs matplotlib: pip install 'flagman[visibility]'", name=error.name
    ) from error

PASSED = "#2b7bba"
FAILED = "#d62728"
BAND = "#2ca02c"
PHASE_COLOURS = {
    "Progressing": "#2b7bba",
    "WaitingPromotion": "#ff7f0e",
    "Waiting": "#ff7f0e",
    "Promoting": "#9467bd",
    "Finalising": "#17becf",
    "Succeeded": "#2ca02c",
    "Failed": "#d62728",
}


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with matplotlib.rc_context({"svg.hashsalt": "flagman", "font.size": 9}):
        figure = pyplot.figure(figsize=(width, height))
        try:
            yield figure
        finally:
            pyplot.close(figure)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML prolog and doctype


def metric_svg(series: MetricSeries) -> str:
    """Value per check against the band it had to stay in; failed checks are red crosses."""
    with _figure(6.4, 2.6) as figure:
        axes = figure.add_subplot()
        xs = list(range(1, len(series.points) + 1))
        values = [point.value for point in series.points]
        axes.plot(xs, values, color=PASSED, linewidth=1, zorder=2)
        for passed, colour, marker, size in ((True, PASSED, "o", 18), (False, FAILED, "x", 40)):
            chosen = [(x, p.value) for x, p in zip(xs, series.points, strict=True) if p.passed is passed]
            if chosen:
                axes.scatter(
                    [x for x, _ in chosen],
                    [y for _, y in chosen],
                    color=colour,
                    marker=marker,
                    s=size,
                    zorder=4,
                    label="passed" if passed else "failed",
                )
        low, high = series.min, series.max
        span = [v for v in (*values, low, high) if v is not None]
        margin = (max(span) - min(span)) * 0.1 or 1.0 if span else 1.0
        bottom = min(span) - margin if span else 0.0
        top = max(span) + margin if span else 1.0
        if low is not None or high is not None:
            axes.axhspan(
                low if low is not None else bottom,
                high if high is not None else top,
                color=BAND,
                alpha=0.12,
                zorder=1,
                label="threshold band",
            )
        for limit in (low, high):
            if limit is not None:
                axes.axhline(limit, color=BAND, linestyle="--", linewidth=1, zorder=1)
        axes.set_ylim(bottom, top)
        axes.set_xticks(xs, [str(p.iteration) for p in series.points])
        axes.set_xlabel("check (labelled with the iteration)")
        axes.set_ylabel(f"{series.name} ({series.unit})" if series.unit else series.name)
        axes.set_title(series.name, loc="left")
        axes.legend(loc="best", fontsize=7)
        axes.grid(alpha=0.3)
        return _svg(figure)


def timeline_svg(run: Run) -> str:
    """The phases of the run as bars over time (seconds from the start)."""
    with _figure(6.4, 1.2) as figure:
        axes = figure.add_subplot()
        if run.phases:
            start = parse_time(run.phases[0].at)
            moments = [(parse_time(p.at) - start).total_seconds() for p in run.phases]
            end = max(moments[-1], 1.0)
            for index, phase in enumerate(run.phases):
                left = moments[index]
                right = moments[index + 1] if index + 1 < len(moments) else end + max(end * 0.05, 1.0)
                colour = PHASE_COLOURS.get(phase.phase, "#7f7f7f")
                axes.broken_barh([(left, max(right - left, 0.5))], (0, 1), color=colour)
                axes.text(left, 1.15, phase.phase, fontsize=7, rotation=20)
        axes.set_yticks([])
        axes.set_ylim(0, 2)
        axes.set_xlabel("seconds since the run started")
        return _svg(figure)
