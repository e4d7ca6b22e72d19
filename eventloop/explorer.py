"""The explorer: scrub through a recording one loop iteration at a time.

Grows from: ``timeline``, which draws a whole recording at once.
Adds: a slider (and a Play button) over the loop's iterations. For the chosen
iteration it says which descriptors the loop watched, which ``select``
reported ready, which handlers ran and for how long, and what the loop
decided; the timeline below highlights that iteration.

Why: a timeline shows the shape of a run; stepping through it turn by turn is
how a learner checks their model of the loop ("fd 5 was ready, so
``handle_receive`` ran, then the loop went back to ``select``").

In a notebook, make ``explore(recorder)`` the last expression of a cell. The
widget is shown, and one line of plain text is printed too, because nbval
compares text and never widgets. Without ipywidgets, ``explore`` prints the
recording as a table instead.

Where there is no kernel to move the slider (a saved notebook opened later, the
book site), the saved output also holds a still of the same recording: the
timeline and the details panel, frame by frame, for the first iterations. It is
drawn only when the notebook is run to be saved (``tools/run_notebooks.py`` sets
``EVENTLOOP_EXPLORER_STILL=1``): drawing it takes a second or more, and a
learner running the notebook has the live widget.
"""

from __future__ import annotations

import base64
import html
import io
import os
import textwrap

from eventloop.recorder import Iteration, Recorder
from eventloop.timeline import draw_highlight, figure_size, plot_timeline
from eventloop.timeline_rows import descriptor_names, timeline_rows

DPI = 80
"""Resolution of the timeline image: sharp enough, and quick to send to the browser."""

STILL = "EVENTLOOP_EXPLORER_STILL"
"""The environment variable that asks for the still (set by ``tools/run_notebooks.py``)."""

FRAMES = 4
"""Iterations in the still that stands in for the widget where there is no kernel."""

FRAMES_DPI = 80
"""The still's resolution: readable, and small enough to keep in the notebook."""


def explore(recorder: Recorder) -> Explorer | TextExplorer:
    """An explorer widget over ``recorder``; a printed table if ipywidgets is missing."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return TextExplorer(recorder)
    return Explorer(recorder)


class Explorer:
    """A slider over the iterations of a recording, with details and a timeline.

    ``.widget`` is the whole thing, ``.slider`` picks the iteration,
    ``.show(n)`` moves to iteration ``n``, ``.details_text(n)`` is what the
    details panel says about iteration ``n``.
    """

    def __init__(self, recorder: Recorder) -> None:
        import ipywidgets as widgets
        from matplotlib.figure import Figure

        self.recorder = recorder
        self.turns: dict[int, Iteration] = {t.number: t for t in recorder.iterations()}
        self.names = descriptor_names(recorder)
        numbers = sorted(self.turns) or [0]
        self.first, self.last = numbers[0], numbers[-1]
        self.slider = widgets.IntSlider(
            value=self.first,
            min=self.first,
            max=self.last,
            description="iteration",
            continuous_update=False,
            disabled=not self.turns,
            layout=widgets.Layout(width="420px"),
        )
        self.play = widgets.Play(
            value=self.first, min=self.first, max=self.last, interval=700, disabled=not self.turns
        )
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.details = widgets.HTML()
        self.details.add_class("eventloop-explorer-details")
        self.image = widgets.Image(format="png")

        self.rows = timeline_rows(recorder)
        self.figure = Figure(figsize=figure_size(self.rows), layout="constrained")
        self.axes = self.figure.add_subplot()
        highlight = self.first if self.turns else None
        plot_timeline(recorder, ax=self.axes, highlight=highlight)
        self.highlighted = [a for a in self.axes.get_children() if is_highlight(a)]

        self.widget = widgets.VBox(
            [widgets.HBox([self.play, self.slider]), self.details, self.image]
        )
        self.widget.add_class("eventloop-explorer")
        self.slider.observe(self._on_slider, names="value")
        self._update(self.first)

    # --- what the learner calls ---------------------------------------------

    def show(self, iteration: int) -> None:
        """Move the explorer to ``iteration`` (as if the slider had been dragged there)."""
        if not self.first <= iteration <= self.last:
            raise ValueError(
                f"iteration {iteration} is not in this recording: "
                f"choose one from {self.first} to {self.last}"
            )
        self.slider.value = iteration

    @property
    def iteration(self) -> int:
        """The iteration shown now."""
        return self.slider.value

    def details_text(self, iteration: int) -> str:
        """What happened in ``iteration``, in a few plain lines."""
        turn = self.turns.get(iteration)
        if turn is None:
            return "nothing recorded" if not self.turns else f"iteration {iteration}: no events"
        return describe(turn, self.names)

    def status_line(self) -> str:
        """One stable line of text for nbval: what the explorer covers and where it starts."""
        if not self.turns:
            return "explorer: nothing recorded"
        return (
            f"explorer: iterations {self.first}-{self.last}, starting at iteration "
            f"{self.iteration} (move the slider to step through them)"
        )

    def frame_iterations(self) -> list[int]:
        """The iterations the still shows: the first ``FRAMES`` of the recording."""
        return sorted(self.turns)[:FRAMES]

    def frames_png(self) -> bytes:
        """The still: for each frame iteration, the highlighted timeline and its details."""
        from matplotlib.figure import Figure

        chosen = self.frame_iterations()
        texts = [
            "\n".join(
                part
                for line in self.details_text(number).splitlines()
                for part in textwrap.wrap(line, 96, subsequent_indent="    ")
            )
            for number in chosen
        ]
        width, height = figure_size(self.rows)
        # each frame: the timeline, and under it the details panel's text (same width as the
        # chapter's other figures, so that the text is as legible on a page as theirs)
        ratios = [r for text in texts for r in (height, 0.45 + 0.19 * text.count("\n"))]
        figure = Figure(figsize=(width, sum(ratios) + 0.4), layout="constrained")
        axes = figure.subplots(len(ratios), 1, height_ratios=ratios)
        for number, text, timeline, details in zip(chosen, texts, axes[::2], axes[1::2]):
            plot_timeline(self.recorder, ax=timeline, highlight=number, title=f"iteration {number}")
            timeline.get_legend().remove()  # the chapter's timeline above has it
            details.axis("off")
            details.text(0, 1, text, va="top", family="monospace", fontsize=10.5)
        shown = f"the first {len(chosen)} of {len(self.turns)} iterations"
        if len(chosen) == len(self.turns):
            shown = f"all {len(chosen)} iterations"
        figure.suptitle(
            f"The explorer, frame by frame ({shown}): run the notebook for its slider",
            x=0.01,
            ha="left",
            fontsize=12,
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=FRAMES_DPI)
        return few_colours(buffer.getvalue())

    # --- how the widget works ------------------------------------------------

    def _on_slider(self, change: dict) -> None:
        self._update(change["new"])

    def _update(self, iteration: int) -> None:
        """Move the highlight, then refresh picture and details; the timeline is drawn once.

        The picture is sent before the details, so that when the text says
        "iteration 3" the picture already highlights iteration 3.
        """
        if self.turns:
            for artist in self.highlighted:
                artist.remove()
            self.highlighted = draw_highlight(self.axes, self.rows, iteration)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        self.image.value = buffer.getvalue()
        self.details.value = f"<pre>{html.escape(self.details_text(iteration))}</pre>"

    def _ipython_display_(self) -> None:
        """Show the widget, with stable text in place of the widget's own long repr."""
        from IPython.display import display

        bundle = self.widget._repr_mimebundle_()
        if isinstance(bundle, tuple):  # (data, metadata) in some ipywidgets versions
            bundle = bundle[0]
        bundle = dict(bundle)
        bundle["text/plain"] = "Explorer widget (run the notebook to use it)"
        if self.turns and os.environ.get(STILL) == "1":  # for where the widget cannot be
            bundle["image/png"] = base64.b64encode(self.frames_png()).decode("ascii")
        display(bundle, raw=True)
        print(self.status_line())

    def __repr__(self) -> str:
        return f"<{self.status_line()}>"


class TextExplorer:
    """What ``explore`` gives without ipywidgets: the recording as a printed table."""

    def __init__(self, recorder: Recorder) -> None:
        self.text = (
            "ipywidgets is not installed, so here is the recording as a table "
            "(pip install ipywidgets for the explorer):\n" + recorder.table()
        )
        print(self.text)

    def _ipython_display_(self) -> None:
        """Already printed by ``explore``: show nothing more."""

    def __repr__(self) -> str:
        return self.text


def fds(numbers: tuple[int, ...], names: dict[int, str]) -> str:
    """``fd 5 (UDPEchoServer), fd 6`` or ``none``."""
    if not numbers:
        return "none"
    return ", ".join(f"fd {n} ({names[n]})" if n in names else f"fd {n}" for n in numbers)


def describe(turn: Iteration, names: dict[int, str]) -> str:
    """A plain-text account of one iteration, in the order things happened."""
    lines = [f"iteration {turn.number}"]
    before = [n for n in turn.notes if turn.select is None or n.at <= turn.select.entered]
    lines += [f"note: {note.text}" for note in before]
    if turn.select is not None:
        s = turn.select
        lines += [
            f"watched for reading: {fds(s.watched_read, names)}",
            f"watched for writing: {fds(s.watched_write, names)}",
            f"waited in select: {s.duration * 1000:.3f} ms",
            f"ready to read: {fds(s.ready_read, names)}",
            f"ready to write: {fds(s.ready_write, names)}",
        ]
    if turn.handlers:
        lines.append("handlers run:")
        for call in turn.handlers:
            failed = f", raised {call.error}" if call.error else ""
            lines.append(f"  {call.handler}.{call.label}: {call.duration * 1000:.3f} ms{failed}")
    elif turn.select is not None:
        lines.append("handlers run: none")
    lines += [f"note: {note.text}" for note in turn.notes if note not in before]
    return "\n".join(lines)


def few_colours(png: bytes, colours: int = 64) -> bytes:
    """The same picture with a palette of ``colours``: a timeline has few, and a third the bytes."""
    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(
        colours, method=Image.Quantize.FASTOCTREE
    ).save(buffer, "png", optimize=True)
    return buffer.getvalue()


def is_highlight(artist: object) -> bool:
    """Whether ``artist`` is part of the iteration highlight (drawn by ``draw_highlight``)."""
    gid = getattr(artist, "get_gid", lambda: None)()
    return bool(gid) and gid.endswith("highlight")
