"""A readiness timeline: a recording of the loop drawn as rows over time.

Grows from: ``recorder``, which logs every wait in ``select`` and every call
into a handler as plain data.
Adds: a picture of that log a learner reads at a glance. Time runs left to
right in milliseconds. The top row is the loop itself: shaded where it was
blocked in ``select``, blank where it was running code. Below it, one row per
descriptor (``UDPEchoServer fd 5``), with a bar for each handler call and a
triangle where ``select`` reported the descriptor ready.

Why a picture: a table of ten thousand iterations says nothing; the picture
shows at once that the loop spends almost all its time waiting, that handlers
run one after another and never overlap, and which client had to wait.

Two modules, two layers, so that tests check *what* is drawn without
looking at pixels:

* ``timeline_rows`` turns a recording into plain ``Row``, ``Span`` and
  ``Marker`` objects (times in seconds, as recorded).
* this module, ``plot_timeline(recorder, ...)``, draws those rows with
  matplotlib and returns the ``Axes``. It never calls ``plt.show()``: in a
  notebook the figure appears by itself.

Only this module (and ``explorer``) imports matplotlib; the loops never do.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from eventloop.recorder import Recorder
from eventloop.timeline_rows import (
    Row,
    Span,
    time_extent,
    timeline_rows,
)

if TYPE_CHECKING:  # imported lazily at draw time, so `import eventloop.timeline` stays cheap
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes


# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
COLOURS = {
    "select": "#9ecae1",  # light blue: waiting
    "blocked": "#9ecae1",
    "handler": "#0072B2",  # dark blue: running
    "error": "#D55E00",  # vermilion
    "read": "#009E73",  # bluish green
    "write": "#E69F00",  # orange
    "note": "#555555",
    "highlight": "#F0E442",  # yellow
}

MARKERS = {"read": "^", "write": "v", "note": "|"}
"""Marker shapes: shape as well as colour tells "ready to read" from "ready to write"."""

LEGEND = {
    "select": "waiting in select",
    "blocked": "blocked in a call",
    "handler": "handler running",
    "error": "raised an error",
    "read": "ready to read",
    "write": "ready to write",
    "note": "loop decision (note)",
}
"""The legend, in words, for every kind of span and marker."""

CHAR_WIDTH = 0.0125
"""Rough width of one caption character, as a fraction of the time axis."""

AGGREGATE = 500
"""Rows with more spans (or markers) of one kind than this are drawn binned."""

BINS = 400
"""How many time bins a binned row is cut into."""

HEIGHT = 0.6
"""Height of a span's bar; rows are one unit apart."""

LABEL_LIMIT = 30
"""Rows with more spans than this are drawn without a caption on each span."""

MIN_WIDTH = 0.004
"""Narrowest span drawn, as a fraction of the time axis: a 20 µs handler call
in a one-second recording would otherwise be invisible."""


def plot_timeline(
    recorder: Recorder,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    highlight: int | None = None,
) -> Axes:
    """Draw the recording as a readiness timeline and return the matplotlib ``Axes``.

    ``highlight=N`` shades iteration N and outlines its spans (the explorer
    moves it with ``draw_highlight``). Each row's spans are drawn in one
    collection per kind, so ten thousand iterations draw about as fast as
    ten; collections carry a ``gid`` such as ``"row 1 handler"`` for tests.
    """
    import matplotlib.pyplot as plt

    rows = timeline_rows(recorder)
    if ax is None:
        _, ax = plt.subplots(figsize=figure_size(rows), layout="constrained")
    if title is None:
        title = f"What the loop did: {recorder.summary()}"
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_xlabel("time since start (ms)", fontsize=11)
    if not rows:
        ax.text(
            0.5,
            0.5,
            "nothing recorded",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=12,
            color="#555555",
        )
        ax.set_yticks([])
        return ax
    start_ms, end_ms = (t * 1000 for t in time_extent(rows))
    extent_ms = (start_ms, max(end_ms, start_ms + 1e-3))
    kinds_seen: list[str] = []
    reach = extent_ms[1]  # how far right the captions go: past the data for the last bar
    for index, row in enumerate(rows):
        y = len(rows) - 1 - index
        draw_row(ax, index, y, row, extent_ms, kinds_seen)
        if len(row.spans) <= LABEL_LIMIT:
            reach = max(reach, label_spans(ax, y, row, extent_ms))
    style_axes(ax, rows, extent_ms, reach)
    add_legend(ax, kinds_seen, highlight)
    if highlight is not None:
        draw_highlight(ax, rows, highlight)
    return ax


def figure_size(rows: list[Row]) -> tuple[float, float]:
    """Inches: full notebook width, about half an inch per row."""
    return (10.0, 1.3 + 0.55 * max(len(rows), 1))


def style_axes(
    ax: Axes, rows: list[Row], extent_ms: tuple[float, float], reach: float | None = None
) -> None:
    """Row names on the left, a light grid, no box: the data is the picture.

    ``reach`` is where the rightmost caption ends; the axis is widened to show it.
    """
    ax.set_yticks(range(len(rows)), [row.label for row in reversed(rows)], fontsize=11)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    margin = (extent_ms[1] - extent_ms[0]) * 0.02
    right = extent_ms[1] if reach is None else max(extent_ms[1], reach)
    ax.set_xlim(extent_ms[0] - margin, right + margin)
    ax.tick_params(axis="x", labelsize=10)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def add_legend(ax: Axes, kinds_seen: list[str], highlight: int | None) -> None:
    """A legend in words, listing only what this picture shows, outside the plot on the right."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Patch | Line2D] = []
    for kind in ("select", "blocked", "handler", "error"):
        if kind in kinds_seen:
            handles.append(Patch(color=COLOURS[kind], label=LEGEND[kind]))
    for kind, marker in MARKERS.items():
        if kind in kinds_seen:
            handles.append(
                Line2D(
                    [],
                    [],
                    color=COLOURS[kind],
                    marker=marker,
                    linestyle="",
                    markersize=9,
                    label=LEGEND[kind],
                )
            )
    if highlight is not None:
        handles.append(
            Patch(color=COLOURS["highlight"], alpha=0.45, label=f"iteration {highlight}")
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=10, frameon=False
    )


def draw_highlight(ax: Axes, rows: list[Row], iteration: int) -> list[Artist]:
    """Shade iteration ``iteration`` and outline its spans; return what was drawn.

    The explorer removes the returned artists and calls this again to move the
    highlight, which is much cheaper than drawing the whole timeline anew.
    """
    start_ms, end_ms = (t * 1000 for t in time_extent(rows))
    min_width = max(end_ms - start_ms, 1e-3) * MIN_WIDTH
    drawn: list[Artist] = []
    times = [
        t for row in rows for s in row.spans if s.iteration == iteration for t in (s.start, s.end)
    ]
    times += [m.at for row in rows for m in row.markers if m.iteration == iteration]
    if times:
        lo, hi = widen(min(times) * 1000, max(times) * 1000, min_width * 2)
        band = ax.axvspan(lo, hi, color=COLOURS["highlight"], alpha=0.45, zorder=0)
        band.set_gid("highlight")
        drawn.append(band)
    for index, row in enumerate(rows):
        y = len(rows) - 1 - index
        chosen = [
            widen(s.start * 1000, s.end * 1000, min_width)
            for s in row.spans
            if s.iteration == iteration
        ]
        if chosen:
            outline = ax.broken_barh(
                [(lo, hi - lo) for lo, hi in chosen],
                (y - HEIGHT / 2 - 0.06, HEIGHT + 0.12),
                facecolors="none",
                edgecolors="black",
                linewidth=1.5,
                zorder=4,
                gid=f"row {index} highlight",
            )
            drawn.append(outline)
    legend = ax.get_legend()
    for text in legend.get_texts() if legend is not None else []:
        if text.get_text().startswith("iteration "):
            text.set_text(f"iteration {iteration}")
    return drawn


def widen(lo: float, hi: float, min_width: float) -> tuple[float, float]:
    """Grow ``[lo, hi]`` about its centre to at least ``min_width``."""
    if hi - lo >= min_width:
        return lo, hi
    centre = (lo + hi) / 2
    return centre - min_width / 2, centre + min_width / 2


def draw_row(
    ax: Axes,
    index: int,
    y: float,
    row: Row,
    extent_ms: tuple[float, float],
    kinds_seen: list[str],
) -> None:
    """Draw one row: one collection per span kind, one marker series per marker kind.

    Up to ``AGGREGATE`` spans of a kind are drawn one by one (each at least
    ``MIN_WIDTH`` wide). Beyond that, the time axis is cut into ``BINS`` bins
    and each bin is a bar whose height is the fraction of the bin spent in
    that kind of span: ten thousand 50 µs handler calls then read as "busy
    5% of the time", not as a solid block.
    """
    start_ms, end_ms = extent_ms
    min_width = (end_ms - start_ms) * MIN_WIDTH
    for kind in ("select", "blocked", "handler", "error"):
        spans = [s for s in row.spans if s.kind == kind]
        if not spans:
            continue
        kinds_seen.append(kind)
        if len(spans) > AGGREGATE:
            draw_binned(ax, y, spans, extent_ms, COLOURS[kind], f"row {index} {kind} binned")
        else:
            bars = [widen(s.start * 1000, s.end * 1000, min_width) for s in spans]
            ax.broken_barh(
                [(lo, hi - lo) for lo, hi in bars],
                (y - HEIGHT / 2, HEIGHT),
                facecolors=COLOURS[kind],
                edgecolors="white",  # back-to-back calls stay visibly separate
                linewidth=0.8,
                gid=f"row {index} {kind}",
            )
    for kind, shape in MARKERS.items():
        times = [m.at * 1000 for m in row.markers if m.kind == kind]
        if not times:
            continue
        kinds_seen.append(kind)
        if len(times) > AGGREGATE:  # one marker per bin that had any
            size = (end_ms - start_ms) / BINS
            times = sorted({start_ms + (int((t - start_ms) / size) + 0.5) * size for t in times})
        # above the bar; read and write side by side, so that both show when both happen
        nudge = {"read": -1.5, "write": 1.5, "note": 0.0}[kind] * min_width
        ax.plot(
            [t + nudge for t in times],
            [y + (0.0 if kind == "note" else 0.42)] * len(times),
            linestyle="",
            marker=shape,
            color=COLOURS[kind],
            markersize=9 if kind != "note" else 16,
            markeredgecolor="white" if kind != "note" else None,
            markeredgewidth=0.6,
            gid=f"row {index} {kind}",
            zorder=3,
        )


def busy_fractions(
    spans: list[Span], extent_ms: tuple[float, float], bins: int = BINS
) -> list[float]:
    """For each of ``bins`` equal slices of the time axis, the fraction covered by ``spans``."""
    start_ms, end_ms = extent_ms
    size = (end_ms - start_ms) / bins
    covered = [0.0] * bins
    if size <= 0:
        return [1.0 if spans else 0.0] * bins
    for span in spans:
        lo, hi = span.start * 1000 - start_ms, span.end * 1000 - start_ms
        first, last = int(lo / size), min(int(hi / size), bins - 1)
        for b in range(max(first, 0), last + 1):
            # a zero-length call still counts as "something happened here"
            covered[b] += max(min(hi, (b + 1) * size) - max(lo, b * size), size * 1e-9)
    return [min(c / size, 1.0) for c in covered]


def draw_binned(
    ax: Axes, y: float, spans: list[Span], extent_ms: tuple[float, float], colour: str, gid: str
) -> None:
    """Draw many spans as one bar per time bin, as tall as the bin is busy."""
    from matplotlib.collections import PolyCollection

    start_ms, end_ms = extent_ms
    size = (end_ms - start_ms) / BINS
    bottom = y - HEIGHT / 2
    verts = []
    for b, fraction in enumerate(busy_fractions(spans, extent_ms)):
        if fraction <= 0:
            continue
        top = bottom + HEIGHT * max(fraction, 0.08)  # a sliver stays visible
        left, right = start_ms + b * size, start_ms + (b + 1) * size
        verts.append([(left, bottom), (right, bottom), (right, top), (left, top)])
    ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="none", gid=gid))


def label_spans(ax: Axes, y: float, row: Row, extent_ms: tuple[float, float]) -> float:
    """Caption spans where there is room, so that no caption covers another or a span.

    A caption goes inside a span wide enough to hold it, else just after the
    span, else just before it, else nowhere. The loop's waits are never
    captioned: the legend names them. The last span's caption may run past the
    data (the rightmost bar used to lose its label); returns where the captions
    end, so that the axis can be widened to show them.
    """
    spans = [s for s in row.spans if s.kind != "select"]
    width_ms = extent_ms[1] - extent_ms[0]
    gap = width_ms * 0.006
    taken = extent_ms[0] - width_ms * 0.02  # the axis starts here (see style_axes)
    reach = extent_ms[1]
    for span, after in zip(spans, [*spans[1:], None], strict=False):  # after the last: None
        begin = span.start * 1000
        end = begin + max((span.end - span.start) * 1000, width_ms * MIN_WIDTH)
        needed = width_ms * CHAR_WIDTH * len(span.label)
        limit = math.inf if after is None else after.start * 1000 - gap
        if end - begin >= needed + 2 * gap:
            inside = "white" if span.kind in ("handler", "error") else "black"
            caption(ax, (begin + end) / 2, y, span.label, "center", inside)
        elif end + gap + needed <= limit:
            caption(ax, end + gap, y, span.label, "left")
            end += gap + needed
            # a caption past the data widens the axis, which shrinks the data: leave room
            reach = max(reach, end + needed * 0.25) if after is None else reach
        elif begin - 2 * gap - needed >= taken:
            caption(ax, begin - gap, y, span.label, "right")
        taken = end
    return reach


def caption(ax: Axes, x: float, y: float, text: str, align: str, colour: str = "#333333") -> None:
    """One span caption: small, and dark grey unless it sits inside a dark bar."""
    ax.text(
        x, y, text, ha=align, va="center", fontsize=9 if align == "center" else 8.5, color=colour
    )
