"""The recorder: plain data about each iteration (eventloop/recorder.py)."""

from __future__ import annotations

from eventloop.handlers import event_loop
from eventloop.recorder import HandlerEvent, NoteEvent, Recorder, SelectEvent
from eventloop.udp import UDPEchoServer, UDPTimeServer


def test_a_scripted_exchange_is_recorded_as_an_ordered_trace(udp_client):
    recorder = Recorder()
    with UDPEchoServer() as echo, UDPTimeServer() as clock:
        udp_client.sendto(b"hello", echo.address)
        udp_client.sendto(b"what time is it?", clock.address)
        event_loop(
            [echo, clock],
            until=lambda: echo.requests == 1 and clock.requests == 1,
            duration=2,
            recorder=recorder,
        )
        e, c = echo.fileno(), clock.fileno()
        trace = recorder.trace()

    both = sorted([e, c])
    # The two datagrams may become ready in one select or in two: accept either, but in order.
    if trace[0] == f"select read={both} write=[] -> read={both} write=[]":
        assert trace == [
            f"select read={both} write=[] -> read={both} write=[]",
            f"UDPEchoServer.handle_receive(fd {e})",
            f"UDPTimeServer.handle_receive(fd {c})",
            "note: stopped: until",
        ]
    else:
        assert trace[0] == f"select read={both} write=[] -> read=[{e}] write=[]"
        assert trace[1] == f"UDPEchoServer.handle_receive(fd {e})"
        assert trace[-1] == "note: stopped: until"
        assert f"UDPTimeServer.handle_receive(fd {c})" in trace


def test_events_are_in_time_order_and_handlers_follow_their_select(udp_client):
    recorder = Recorder()
    with UDPEchoServer() as echo:
        for n in range(3):
            udp_client.sendto(b"x%d" % n, echo.address)
        event_loop([echo], until=lambda: echo.requests == 3, duration=2, recorder=recorder)
    times = []
    for event in recorder:
        if isinstance(event, SelectEvent):
            times += [event.entered, event.left]
        elif isinstance(event, HandlerEvent):
            times += [event.began, event.ended]
        else:
            times.append(event.at)
    assert times == sorted(times)
    for turn in recorder.iterations():
        for call in turn.handlers:
            assert turn.select is not None and call.began >= turn.select.left


def test_iterations_group_events_and_summary_counts_them(udp_client):
    recorder = Recorder()
    with UDPEchoServer() as echo:
        udp_client.sendto(b"x", echo.address)
        event_loop([echo], max_iterations=1, recorder=recorder)
    turns = recorder.iterations()
    assert [t.number for t in turns] == [0, 1]
    wait = turns[0].select
    assert wait is not None
    echo_fd = wait.watched_read[0]
    assert wait.ready_read == (echo_fd,)
    assert [h.label for h in turns[0].handlers] == [f"handle_receive(fd {echo_fd})"]
    assert [n.text for n in turns[1].notes] == ["stopped: max_iterations"]
    assert recorder.summary() == "1 iterations, 1 ready descriptors, 1 handler calls, 0 errors"
    assert len(recorder) == 3


def test_table_shows_one_row_per_iteration_and_says_how_many_are_hidden():
    recorder = Recorder(clock=iter(range(1000)).__next__)
    for n in range(30):
        recorder.record_select(n, n, n + 0.5, [3], [], [3], [])
        recorder.record_handler(n, "Echo", 3, "handle_receive", n + 0.5, n + 0.75)
    lines = recorder.table(limit=5).splitlines()
    assert lines[0].split() == ["iter", "in", "select", "ready", "handlers", "run"]
    assert len(lines) == 1 + 5 + 1
    assert "read=[3] write=[]" in lines[1]
    assert "Echo.handle_receive(fd 3) 250.00ms" in lines[1]
    assert lines[-1] == "... 25 more iterations"


def test_a_recorder_is_plain_data_without_plotting_imports():
    import subprocess
    import sys

    code = (
        "import sys, eventloop, eventloop.handlers, eventloop.recorder, eventloop.udp; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_notes_record_the_loops_own_decisions():
    recorder = Recorder()
    recorder.note(0, "dropped X: closed")
    (note,) = recorder.notes()
    assert isinstance(note, NoteEvent) and note.text == "dropped X: closed"
    assert recorder.trace() == ["note: dropped X: closed"]


def test_without_a_recorder_the_loop_makes_no_recorder_calls(monkeypatch, udp_client):
    calls = []
    monkeypatch.setattr(Recorder, "now", lambda self: calls.append("now") or 0.0)
    with UDPEchoServer() as echo:
        udp_client.sendto(b"x", echo.address)
        event_loop([echo], max_iterations=1)
    assert calls == []
