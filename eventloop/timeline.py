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

Three modules, three layers, so that tests check *what* is drawn without
looking at pixels:

* ``timeline_rows`` turns a recording into plain ``Row``, ``Span`` and
  ``Marker`` objects (times in seconds, as recorded).
* ``timeline_marks`` draws one row: its bars, its markers, captions where
  they fit, in the picture's colours and shapes.
* this module, ``plot_timeline(recorder, ...)``, makes the figure: one row
  after another, the axes, the legend, a highlighted iteration. It returns the
  ``Axes`` and never calls ``plt.show()``: in a notebook the figure appears by
  itself.

Only these modules (and ``explorer``) import matplotlib; the loops never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventloop.recorder import Recorder
from eventloop.timeline_marks import (
    COLOURS,
    HEIGHT,
    LABEL_LIMIT,
    LEGEND,
    MARKERS,
    MIN_WIDTH,
    draw_row,
    label_spans,
    widen,
)
from eventloop.timeline_rows import Row, time_extent, timeline_rows

if TYPE_CHECKING:  # imported lazily at draw time, so `import eventloop.timeline` stays cheap
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes


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
