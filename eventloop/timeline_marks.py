"""How one row of the readiness timeline is drawn: bars, readiness markers, captions.

Grows from: ``timeline_rows``, which turns a recording into rows of ``Span`` and
``Marker`` objects (plain data, times in seconds).
Adds: the marks that make one row readable, and the picture's vocabulary: the
colour and shape of each kind of span and marker, and what the legend calls it.
Each rule below solves a problem a learner would otherwise see:

* a 20 µs handler call in a one-second recording is invisible at its true
  width: every span is drawn at least ``MIN_WIDTH`` wide (``widen``);
* ten thousand calls in one row draw as a solid block, and slowly: past
  ``AGGREGATE`` spans, time is cut into ``BINS`` bins, each drawn as tall as it
  was busy (``busy_fractions``, ``draw_binned``);
* captions that cover each other or a bar cannot be read: a caption goes where
  it fits, or nowhere (``label_spans``); and never before its bar, where it
  would read as an earlier event.

Why a module of its own: ``timeline`` then reads as the figure alone (axes,
legend, the highlighted iteration), and each rule here can be read and tested
by itself. Like ``timeline``, it needs matplotlib only while drawing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from eventloop.timeline_rows import Row, Span

if TYPE_CHECKING:  # matplotlib is imported by the caller, at draw time
    from matplotlib.axes import Axes


# Okabe-Ito colours (Okabe & Ito, "Color Universal Design"), chosen to stay distinct with every
# common colour-vision deficiency: blue for running, vermilion for an error, bluish green and
# orange for ready to read / write, yellow for the explorer's highlight. Waiting is a light blue
# (ColorBrewer's Blues) that differs from running by lightness, which no deficiency removes.
# Nothing relies on colour alone: read and write also differ in shape (MARKERS), an error's bar
# is captioned "raised ...", and rows are named. Checked by simulating protanopia, deuteranopia
# and tritanopia (Machado et al. 2009) on a timeline: every pair above stays apart.
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
    span, else nowhere: never before it, where a caption beside a thin bar reads
    as an earlier event. The loop's waits are never
    captioned: the legend names them. The last span's caption may run past the
    data (the rightmost bar used to lose its label); returns where the captions
    end, so that the axis can be widened to show them.
    """
    spans = [s for s in row.spans if s.kind != "select"]
    width_ms = extent_ms[1] - extent_ms[0]
    gap = width_ms * 0.006
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
    return reach


def caption(ax: Axes, x: float, y: float, text: str, align: str, colour: str = "#333333") -> None:
    """One span caption: small, and dark grey unless it sits inside a dark bar."""
    ax.text(
        x, y, text, ha=align, va="center", fontsize=9 if align == "center" else 8.5, color=colour
    )
