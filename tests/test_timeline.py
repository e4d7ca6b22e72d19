"""Tests for eventloop.timeline_rows, timeline_marks and timeline: what is drawn, as data."""

from __future__ import annotations

import socket
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from eventloop import Recorder, UDPEchoServer, UDPTimeServer, event_loop  # noqa: E402
from eventloop.timeline import draw_highlight, plot_timeline  # noqa: E402
from eventloop.timeline_marks import AGGREGATE, LEGEND, busy_fractions  # noqa: E402
from eventloop.timeline_rows import LOOP_ROW, iteration_window, timeline_rows  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def synthetic(iterations: int, fds: tuple[int, ...] = (5, 6, 7), error_every: int = 0) -> Recorder:
    """A recording with one select and one handler call per iteration, on a fake clock."""
    recorder = Recorder(clock=lambda: 0.0)
    t = 0.0
    for i in range(iterations):
        fd = fds[i % len(fds)]
        recorder.record_select(i, t, t + 0.001, list(fds), [], [fd], [])
        t += 0.001
        failed = "ValueError: bad" if error_every and i % error_every == error_every - 1 else None
        recorder.record_handler(i, "Echo", fd, "handle_receive", t, t + 0.0001, failed)
        t += 0.0001
    return recorder


def collections_by_gid(ax) -> dict[str, int]:
    """gid -> number of drawn shapes, for every span collection and marker series."""
    found = {c.get_gid(): len(c.get_paths()) for c in ax.collections if c.get_gid()}
    found.update({ln.get_gid(): len(ln.get_xdata()) for ln in ax.lines if ln.get_gid()})
    return found


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def row_labels(ax) -> list[str]:
    """Row labels top to bottom (matplotlib lists y ticks bottom to top)."""
    return [t.get_text() for t in ax.get_yticklabels()][::-1]


def test_rows_of_a_small_recording():
    recorder = synthetic(4, fds=(5, 6))
    rows = timeline_rows(recorder)
    assert [r.label for r in rows] == [LOOP_ROW, "Echo fd 5", "Echo fd 6"]
    assert [len(r.spans) for r in rows] == [4, 2, 2]
    assert [r.count("read") for r in rows] == [0, 2, 2]
    loop = rows[0]
    assert {s.kind for s in loop.spans} == {"select"}
    assert rows[1].spans[0].label == "handle_receive(fd 5)"
    assert rows[1].spans[0].kind == "handler"
    # a ready marker sits where select returned, before the handler ran
    assert rows[1].markers[0].at == loop.spans[0].end <= rows[1].spans[0].start


def test_plot_draws_one_collection_per_row_and_kind():
    recorder = synthetic(4, fds=(5, 6))
    ax = plot_timeline(recorder, title="four turns")
    drawn = collections_by_gid(ax)
    assert drawn["row 0 select"] == 4
    assert drawn["row 1 handler"] == 2
    assert drawn["row 2 handler"] == 2
    assert drawn["row 1 read"] == 2
    assert row_labels(ax) == [LOOP_ROW, "Echo fd 5", "Echo fd 6"]
    assert ax.get_xlabel() == "time since start (ms)"
    assert ax.get_title(loc="left") == "four turns"
    assert legend_texts(ax) == ["waiting in select", "handler running", "ready to read"]
    # times are drawn in milliseconds (the axis ends a little past the data, further when
    # the last bar's caption needs the room)
    assert 4.2 < ax.get_xlim()[1] < 8.0


def test_one_iteration_highlighted():
    recorder = synthetic(1)
    ax = plot_timeline(recorder, highlight=0)
    drawn = collections_by_gid(ax)
    assert drawn["row 0 highlight"] == 1
    assert drawn["row 1 highlight"] == 1
    assert "iteration 0" in legend_texts(ax)
    band = [p for p in ax.patches if p.get_gid() == "highlight"]
    assert len(band) == 1


def test_highlight_marks_only_that_iteration():
    recorder = synthetic(9)
    ax = plot_timeline(recorder, highlight=4)
    drawn = collections_by_gid(ax)
    highlighted = {gid: n for gid, n in drawn.items() if gid.endswith("highlight")}
    # iteration 4 waited in select, then ran the handler of fd 6 (row 2)
    assert highlighted == {"row 0 highlight": 1, "row 2 highlight": 1}
    assert iteration_window(recorder, 4) == pytest.approx((4 * 0.0011, 4 * 0.0011 + 0.0011))
    assert iteration_window(recorder, 99) is None
    assert "iteration 4" in legend_texts(ax)
    # moving the highlight redraws only the highlight, and renames the legend entry
    for artist in draw_highlight(ax, timeline_rows(recorder), 7):
        assert artist.get_gid() in {"highlight", "row 0 highlight", "row 2 highlight"}
    assert "iteration 7" in legend_texts(ax)
    no_highlight = plot_timeline(recorder)
    assert not any(g.endswith("highlight") for g in collections_by_gid(no_highlight))
    assert not any(t.startswith("iteration") for t in legend_texts(no_highlight))


def test_errors_are_their_own_kind():
    recorder = synthetic(6, fds=(5,), error_every=3)
    rows = timeline_rows(recorder)
    assert rows[1].count("error") == 2 and rows[1].count("handler") == 4
    assert rows[1].spans[2].label == "handle_receive(fd 5) raised ValueError"
    ax = plot_timeline(recorder)
    assert collections_by_gid(ax)["row 1 error"] == 2
    assert "raised an error" in legend_texts(ax)


def test_handler_only_recording_from_chapter_01():
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_handler(0, "client A", 4, "recv (blocked)", 0.0, 0.5)
    recorder.record_handler(0, "client A", 4, "send", 0.5, 0.501)
    recorder.record_handler(0, "client B", 5, "recv (blocked)", 0.501, 0.9)
    rows = timeline_rows(recorder)
    assert [r.label for r in rows] == ["client A fd 4", "client B fd 5"]
    assert [s.kind for s in rows[0].spans] == ["blocked", "handler"]
    assert [s.label for s in rows[0].spans] == ["recv (blocked)", "send(fd 4)"]
    ax = plot_timeline(recorder)
    assert row_labels(ax) == ["client A fd 4", "client B fd 5"]
    assert legend_texts(ax) == ["blocked in a call", "handler running"]
    texts = [t.get_text() for t in ax.texts]
    assert "recv (blocked)" in texts


def test_timers_without_a_descriptor_share_a_row():
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_select(0, 0.0, 0.01, [3], [], [], [])
    recorder.record_handler(0, "timers", -1, "timer", 0.01, 0.011)
    recorder.record_handler(1, "timers", -1, "timer", 0.02, 0.021)
    rows = timeline_rows(recorder)
    assert [r.label for r in rows] == [LOOP_ROW, "timers"]
    assert [s.label for s in rows[1].spans] == ["timer", "timer"]


def test_ten_thousand_iterations_are_binned():
    recorder = synthetic(10_000, error_every=1000)
    rows = timeline_rows(recorder)
    assert [len(r.spans) for r in rows] == [10_000, 3334, 3333, 3333]
    ax = plot_timeline(recorder, highlight=5000)
    drawn = collections_by_gid(ax)
    assert "row 0 select binned" in drawn and "row 1 handler binned" in drawn
    assert drawn["row 1 error"] == 4  # few errors: still drawn one by one
    assert all(n <= 400 for n in drawn.values())  # never one shape per span
    assert len(ax.texts) == 0  # no captions on crowded rows
    # a handful of artists, whatever the length of the recording: it draws fast
    assert len(ax.collections) + len(ax.lines) + len(ax.texts) < 30
    ax.figure.canvas.draw()


def test_busy_fraction_is_honest():
    recorder = synthetic(AGGREGATE + 100, fds=(5,))
    handler_spans = timeline_rows(recorder)[1].spans
    end_ms = handler_spans[-1].end * 1000
    fractions = busy_fractions(handler_spans, (0.0, end_ms), bins=10)
    # handlers ran 0.1 ms in every 1.1 ms: about 9% busy, not a solid block
    assert all(0.05 < f < 0.15 for f in fractions)


def test_empty_recording():
    ax = plot_timeline(Recorder())
    assert [t.get_text() for t in ax.texts] == ["nothing recorded"]
    assert timeline_rows(Recorder()) == []


def test_legend_words():
    assert LEGEND["select"] == "waiting in select"
    assert LEGEND["handler"] == "handler running"
    assert LEGEND["read"] == "ready to read"
    assert LEGEND["write"] == "ready to write"
    assert LEGEND["error"] == "raised an error"


def test_write_readiness_markers():
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_select(0, 0.0, 0.001, [], [7], [], [7])
    recorder.record_handler(0, "Sender", 7, "handle_send", 0.001, 0.002)
    ax = plot_timeline(recorder)
    assert collections_by_gid(ax)["row 1 write"] == 1
    assert "ready to write" in legend_texts(ax)


def test_real_recording_of_two_udp_servers():
    recorder = Recorder()
    with UDPEchoServer() as echo, UDPTimeServer() as clock_server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"hello", echo.address)
            client.sendto(b"?", clock_server.address)
            event_loop(
                [echo, clock_server],
                duration=5,
                until=lambda: echo.requests + clock_server.requests >= 2,
                recorder=recorder,
            )
            assert client.recvfrom(100)[0] and client.recvfrom(100)[0]
        fds = {echo.fileno(): "UDPEchoServer", clock_server.fileno(): "UDPTimeServer"}
    rows = timeline_rows(recorder)
    assert rows[0].label == LOOP_ROW
    assert sorted(r.label for r in rows[1:]) == sorted(f"{n} fd {fd}" for fd, n in fds.items())
    for row in rows[1:]:
        assert row.count("handler") == 1 and row.count("read") == 1
    ax = plot_timeline(recorder, highlight=0)
    assert row_labels(ax)[0] == LOOP_ROW


def test_loop_modules_do_not_import_matplotlib():
    code = (
        "import sys, eventloop, eventloop.handlers, eventloop.udp, eventloop.timeline;"
        "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_rightmost_bar_keeps_its_caption():
    """Issue 12: the last bar of a row sits at the right edge; its caption used to be dropped."""
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_select(0, 0.0, 0.010, [3], [], [3], [])
    recorder.record_handler(0, "echo", 3, "handle_receive", 0.010, 0.0101)
    recorder.record_select(1, 0.0101, 0.020, [3], [], [3], [])
    recorder.record_handler(1, "echo", 3, "handle_receive", 0.020, 0.0201)
    ax = plot_timeline(recorder)
    captions = [t for t in ax.texts if t.get_text() == "handle_receive(fd 3)"]
    assert len(captions) == 2
    last = max(captions, key=lambda t: t.get_position()[0])
    assert last.get_position()[0] > 20.0  # after the last bar, not before it
    assert ax.get_xlim()[1] > 20.0 * 1.1  # the axis was widened to show it


def test_a_caption_never_sits_before_its_bar():
    """Issue 27: a caption left of a thin bar reads as an earlier event.

    Two thin bars close together, with room before the first: the first bar's caption fits
    neither inside it nor between the two bars, so it goes nowhere, never before the bar.
    """
    recorder = Recorder(clock=lambda: 0.0)
    recorder.record_select(0, 0.0, 0.050, [3], [], [3], [])
    recorder.record_handler(0, "echo", 3, "handle_receive", 0.050, 0.0501)
    recorder.record_select(1, 0.0501, 0.0506, [3], [], [3], [])
    recorder.record_handler(1, "echo", 3, "handle_receive", 0.0506, 0.0507)
    recorder.record_select(2, 0.0507, 0.100, [3], [], [], [])
    ax = plot_timeline(recorder)
    captions = [t for t in ax.texts if t.get_text() == "handle_receive(fd 3)"]
    assert captions, "the second bar keeps its caption, after it"
    for text in captions:
        assert text.get_ha() != "right" and text.get_position()[0] >= 50.0, (
            f"a caption at {text.get_position()[0]:.1f} ms, before the bars (50 ms)"
        )
