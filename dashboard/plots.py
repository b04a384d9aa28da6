"""Plots of one run with matplotlib: inline SVG for the HTML, and the whole run as one PNG or SVG image.

Figures are plain ``matplotlib.figure.Figure`` objects, never pyplot: no backend is chosen and no global
figure registry is touched (matplotlib's advice for servers), and ``savefig`` picks the writer by format
(Agg for PNG, the SVG writer for SVG). SVG text is drawn as paths (matplotlib's default
``svg.fonttype``), so the SVG needs no font; PNG text uses the DejaVu font matplotlib ships. The SVG hash
salt and the PNG metadata are fixed, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from dashboard.history import History, MetricSeries, Run, parse_time

try:
    import matplotlib
    from matplotlib.axes import Axes
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
IMAGE_FORMATS = ("png", "svg")
PNG_DPI = 100
WIDTH_INCHES = 6.4
METRIC_HEIGHT, TIMELINE_HEIGHT = 2.6, 1.2
MAX_IMAGE_LINES = 12  # webhook calls and events listed under the plots of a run image (the latest ones)


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with matplotlib.rc_context({"svg.hashsalt": "flagman", "font.size": 9}):
        yield Figure(figsize=(width, height))


def _save(figure: Figure, kind: str) -> bytes:
    buffer = io.BytesIO()
    # No date (SVG) and no software version (PNG) in the metadata: the same run gives the same bytes.
    metadata = {"Date": None} if kind == "svg" else {"Software": None}
    figure.savefig(buffer, format=kind, dpi=PNG_DPI, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()


def _inline_svg(figure: Figure) -> str:
    text = _save(figure, "svg").decode()
    return text[text.index("<svg") :]  # inline: drop the XML prolog and doctype


def draw_metric(axes: Axes, series: MetricSeries) -> None:
    """Value per check against the band it had to stay in; failed checks are red crosses."""
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
    if xs or low is not None or high is not None:
        axes.legend(loc="best", fontsize=7)
    axes.grid(alpha=0.3)


def draw_timeline(axes: Axes, run: Run) -> None:
    """The phases of the run as bars over time (seconds from the start)."""
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


def metric_svg(series: MetricSeries) -> str:
    with _figure(WIDTH_INCHES, METRIC_HEIGHT) as figure:
        draw_metric(figure.add_subplot(), series)
        return _inline_svg(figure)


def timeline_svg(run: Run) -> str:
    with _figure(WIDTH_INCHES, TIMELINE_HEIGHT) as figure:
        draw_timeline(figure.add_subplot(), run)
        return _inline_svg(figure)


def _text_lines(run: Run) -> list[str]:
    """The webhook calls and events of a run as short lines, for the foot of the image."""
    calls = [
        f"{c.at}  {c.name} ({c.type}, {c.phase}) {c.duration_seconds:.3f}s "
        + ("passed" if c.passed else f"failed: {c.error}")
        for c in run.webhooks
    ]
    events = [f"{e.at}  {e.type}: {e.message}" for e in run.events]
    lines: list[str] = []
    for title, items in (("Webhooks", calls), ("Events", events)):
        kept = items[-MAX_IMAGE_LINES:]
        cut = f" (the last {len(kept)} of {len(items)})" if len(kept) < len(items) else ""
        lines.append(f"{title}{cut}:" if items else f"{title}: none")
        lines.extend(textwrap.shorten(line, 110, placeholder=" ...") for line in kept)
    return lines


def run_image(history: History, run: Run, kind: str) -> bytes:
    """The whole run as one image (``png`` or ``svg``): title, timeline, one plot per metric against its
    band, then the webhook calls and events as text."""
    if kind not in IMAGE_FORMATS:
        raise ValueError(f"image format {kind!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    lines = _text_lines(run)
    text_height = 0.16 * len(lines) + 0.2
    heights = [TIMELINE_HEIGHT, *([METRIC_HEIGHT] * len(run.metrics)), text_height]
    with _figure(WIDTH_INCHES, sum(heights) + 0.6) as figure:
        ended = f", ended {run.ended}" if run.ended else ", still running"
        figure.suptitle(
            f"{history.name}.{history.namespace} analysis run {run.number}: {run.status}\n"
            f"revision {run.revision}, started {run.started}{ended}",
            x=0.02,
            horizontalalignment="left",
            fontsize=10,
        )
        grid = figure.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.9)
        draw_timeline(figure.add_subplot(grid[0]), run)
        for index, series in enumerate(run.metrics, start=1):
            draw_metric(figure.add_subplot(grid[index]), series)
        foot = figure.add_subplot(grid[-1])
        foot.axis("off")
        foot.text(0, 1, "\n".join(lines), fontsize=7, family="monospace", verticalalignment="top")
        return _save(figure, kind)
