"""Tests for eventloop.explorer: drive the widget's callbacks as a learner's clicks would."""

from __future__ import annotations

import base64
import socket
import sys

import matplotlib

matplotlib.use("Agg")

import IPython.display  # noqa: E402
import pytest  # noqa: E402

from eventloop import Recorder, UDPEchoServer, event_loop  # noqa: E402
from eventloop.explorer import Explorer, TextExplorer, explore  # noqa: E402


def synthetic(iterations: int) -> Recorder:
    """Iteration i: select watches fds 5 and 6, one of them is ready, its handler runs.

    Iteration 2's handler raises; after the last iteration the loop notes why it stopped.
    """
    clock = [0.0]
    recorder = Recorder(clock=lambda: clock[0])
    t = 0.0
    for i in range(iterations):
        fd = 5 + i % 2
        recorder.record_select(i, t, t + 0.002, [5, 6], [], [fd], [])
        t += 0.002
        name = "Echo" if fd == 5 else "Clock"
        failed = "OSError: boom" if i == 2 else None
        recorder.record_handler(i, name, fd, "handle_receive", t, t + 0.0005, failed)
        t += 0.0005
    clock[0] = t
    recorder.note(iterations, "stopped: until")
    return recorder


def highlighted_iteration(explorer: Explorer) -> str:
    """The legend names the highlighted iteration: read it back from the figure."""
    texts = [t.get_text() for t in explorer.axes.get_legend().get_texts()]
    return next(t for t in texts if t.startswith("iteration "))


def test_slider_moves_details_and_highlight():
    explorer = explore(synthetic(4))
    assert isinstance(explorer, Explorer)
    assert (explorer.slider.min, explorer.slider.max, explorer.slider.value) == (0, 4, 0)
    assert "iteration 0" in explorer.details.value
    first_image = bytes(explorer.image.value)
    assert first_image.startswith(b"\x89PNG")

    explorer.slider.value = 1  # what dragging the slider does
    assert explorer.iteration == 1
    assert explorer.details.value.startswith("<pre>iteration 1\n")
    assert "ready to read: fd 6 (Clock)" in explorer.details.value
    assert highlighted_iteration(explorer) == "iteration 1"
    assert bytes(explorer.image.value) != first_image
    # only one highlight at a time: the old one was removed
    bands = [a for a in explorer.axes.patches if a.get_gid() == "highlight"]
    assert len(bands) == 1

    explorer.show(3)
    assert explorer.slider.value == 3
    assert highlighted_iteration(explorer) == "iteration 3"


def test_details_text_says_what_happened():
    explorer = explore(synthetic(4))
    text = explorer.details_text(2)
    assert text.splitlines() == [
        "iteration 2",
        "watched for reading: fd 5 (Echo), fd 6 (Clock)",
        "watched for writing: none",
        "waited in select: 2.000 ms",
        "ready to read: fd 5 (Echo)",
        "ready to write: none",
        "handlers run:",
        "  Echo.handle_receive(fd 5): 0.500 ms, raised OSError: boom",
    ]
    assert explorer.details_text(4) == "iteration 4\nnote: stopped: until"
    assert explorer.details_text(99) == "iteration 99: no events"


def test_show_rejects_an_iteration_outside_the_recording():
    explorer = explore(synthetic(2))
    with pytest.raises(ValueError, match="from 0 to 2"):
        explorer.show(7)


def test_display_prints_one_stable_line(monkeypatch, capsys):
    explorer = explore(synthetic(3))
    explorer.show(2)
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    explorer._ipython_display_()
    assert capsys.readouterr().out == (
        "explorer: iterations 0-3, starting at iteration 2 (move the slider to step through them)\n"
    )
    (bundle,) = shown
    assert bundle["text/plain"] == "Explorer widget (run the notebook to use it)"
    assert (
        bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    )
    assert "0x" not in repr(explorer)


def test_display_carries_a_still_of_the_first_frames_for_pages_without_a_kernel(monkeypatch):
    explorer = explore(synthetic(7))  # iterations 0-7
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.delenv("EVENTLOOP_EXPLORER_STILL", raising=False)
    explorer._ipython_display_()
    assert "image/png" not in shown.pop()  # a learner's run: the live widget, no still
    monkeypatch.setenv("EVENTLOOP_EXPLORER_STILL", "1")  # tools/run_notebooks.py
    explorer._ipython_display_()
    (bundle,) = shown
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert explorer.frame_iterations() == [0, 1, 2, 3]
    assert explorer.iteration == 0  # drawing the still does not move the widget
    empty = explore(Recorder())
    assert empty.frame_iterations() == []
    shown.clear()
    empty._ipython_display_()
    assert "image/png" not in shown[0]  # nothing recorded: no frames to show


def test_empty_recording():
    explorer = explore(Recorder())
    assert explorer.slider.disabled
    assert explorer.details_text(0) == "nothing recorded"
    assert explorer.status_line() == "explorer: nothing recorded"
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_handler_only_recording():
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_handler(0, "client A", 4, "recv (blocked)", 0.0, 0.5)
    recorder.record_handler(1, "client B", 5, "recv (blocked)", 0.5, 0.9)
    explorer = explore(recorder)
    explorer.show(1)
    assert explorer.details_text(1) == (
        "iteration 1\nhandlers run:\n  client B.recv (blocked)(fd 5): 400.000 ms"
    )


def test_without_ipywidgets_prints_a_table(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    recorder = synthetic(2)
    result = explore(recorder)
    assert isinstance(result, TextExplorer)
    printed = capsys.readouterr().out
    assert "ipywidgets is not installed" in printed
    assert recorder.table() in printed
    assert repr(result) == printed.rstrip("\n")


def test_explorer_over_a_real_udp_run():
    recorder = Recorder()
    with UDPEchoServer() as echo, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        for n in range(3):
            client.sendto(b"ping %d" % n, echo.address)
        event_loop([echo], duration=5, until=lambda: echo.requests >= 3, recorder=recorder)
        fd = echo.fileno()
    explorer = explore(recorder)
    explorer.show(0)
    assert f"ready to read: fd {fd} (UDPEchoServer)" in explorer.details_text(0)
    assert f"UDPEchoServer.handle_receive(fd {fd})" in explorer.details_text(0)
    last = explorer.slider.max
    assert "note: stopped: until" in explorer.details_text(last)


def test_details_tell_a_note_made_before_the_wait_before_the_wait():
    from eventloop.explorer import describe
    from eventloop.recorder import Recorder

    times = iter([0.0, 1.0, 3.0])
    recorder = Recorder(clock=lambda: next(times))
    recorder.note(3, "dropped client 1: closed")  # at 1.0, before this iteration's select
    recorder.record_select(3, 2.0, 2.5, [5], [], [5], [])
    recorder.record_handler(3, "Echo", 5, "handle_receive", 2.5, 2.6)
    recorder.note(3, "stopped: until")  # at 3.0, after the wait
    lines = describe(recorder.iterations()[0], {}).splitlines()
    assert lines.index("note: dropped client 1: closed") < lines.index("watched for reading: fd 5")
    assert lines[-1] == "note: stopped: until"
