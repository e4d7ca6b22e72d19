"""add_reader / add_writer on chapter 09's loop (eventloop.readers)."""

import socket

from eventloop import Recorder, SelectorLoop


def test_reader_callback_runs_while_set_then_stops() -> None:
    a, b = socket.socketpair()
    with a, b, SelectorLoop() as loop:
        got: list[bytes] = []

        def on_readable() -> None:
            got.append(a.recv(100))
            if len(got) == 2:
                loop.remove_reader(a.fileno())

        loop.add_reader(a.fileno(), on_readable)
        b.send(b"one")
        loop.run(max_iterations=1, duration=2)
        b.send(b"two")
        reason = loop.run(duration=2)
        assert got == [b"one", b"two"]
        assert reason == "no handlers"  # the watcher left with its last callback
        assert loop.remove_reader(a.fileno()) is False


def test_reader_and_writer_share_one_registration() -> None:
    a, b = socket.socketpair()
    with a, b, SelectorLoop() as loop:
        order: list[str] = []
        loop.add_writer(a.fileno(), lambda: (order.append("write"), loop.remove_writer(a.fileno())))
        loop.add_reader(a.fileno(), lambda: (order.append("read"), a.recv(10)))
        b.send(b"x")
        rec = Recorder()
        loop.recorder = rec
        loop.run(max_iterations=1, duration=2)
        assert order == ["read", "write"]  # readable handlers first, as in every stage
        assert len(loop.watchers) == 1
        assert loop.remove_reader(a.fileno()) is True
        assert loop.watchers == {}
        assert loop.run(duration=2) == "no handlers"


def test_replacing_a_reader_keeps_one_watcher() -> None:
    a, b = socket.socketpair()
    with a, b, SelectorLoop() as loop:
        calls: list[str] = []
        loop.add_reader(a.fileno(), calls.append, "first")
        loop.add_reader(a.fileno(), lambda: (calls.append("second"), a.recv(10)))
        b.send(b"x")
        loop.run(max_iterations=1, duration=2)
        assert calls == ["second"]
        assert sum(1 for h in loop.handlers if h is not loop.waker) == 1
        loop.remove_reader(a.fileno())


def test_a_watcher_is_asked_its_interest_only_when_its_callbacks_change(monkeypatch) -> None:
    from eventloop.readers import Watcher

    asked: list[int] = []
    wants = Watcher.wants_to_receive
    monkeypatch.setattr(Watcher, "wants_to_receive", lambda w: asked.append(w.fd) or wants(w))
    a, b = socket.socketpair()
    with a, b, SelectorLoop() as loop:
        got: list[bytes] = []
        loop.add_reader(a.fileno(), lambda: got.append(a.recv(10)))
        for n in range(5):
            b.send(b"%d" % n)
            loop.run(until=lambda n=n: len(got) > n, duration=2)
        assert asked == [a.fileno()]  # when it was registered; the 5 reads asked nothing
        loop.add_reader(a.fileno(), lambda: None)  # a change: the loop hears of it, asks again
        loop.run(max_iterations=1, duration=0.05)
        assert asked == [a.fileno()] * 2
        loop.remove_reader(a.fileno())
