"""Exercise 5.5's check (an echo handler's outgoing buffer): right answers pass, the mistakes
learners really make fail with a hint that names the mistake."""

from __future__ import annotations

import pytest
from exercise_checks import hint_of, verdict_of

from eventloop.checks.ch05 import check_5_5
from eventloop.handlers import EventHandler


class OutgoingEcho(EventHandler):
    """The model answer: queue, send what fits, close after EOF once the queue is empty."""

    def __init__(self, sock, handlers):
        self.sock = sock
        self.sock.setblocking(False)
        self.handlers = handlers
        self.outgoing = bytearray()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def wants_to_receive(self):
        return not self.eof

    def handle_receive(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        if data:
            self.outgoing += data
        else:
            self.eof = True
            self.close_when_done()

    def wants_to_send(self):
        return len(self.outgoing) > 0

    def handle_send(self):
        try:
            sent = self.sock.send(self.outgoing)
        except BlockingIOError:
            return
        del self.outgoing[:sent]
        self.close_when_done()

    def close_when_done(self):
        if self.eof and not self.outgoing:
            self.handlers.remove(self)
            self.sock.close()


class SlicesTheBuffer(OutgoingEcho):
    """Right, written differently: slicing copies (slower), but loses nothing."""

    def handle_send(self):
        sent = self.sock.send(self.outgoing)
        self.outgoing = self.outgoing[sent:]
        self.close_when_done()


class SendsEagerly(OutgoingEcho):
    """Right, written differently: try to send at once in handle_receive, queue the rest."""

    def handle_receive(self):
        super().handle_receive()
        if self.outgoing:
            try:
                sent = self.sock.send(self.outgoing)
            except BlockingIOError:
                return
            del self.outgoing[:sent]
            self.close_when_done()


class AlwaysWantsToSend(OutgoingEcho):
    def wants_to_send(self):
        return True


class ClearsAfterSend(OutgoingEcho):
    def handle_send(self):
        self.sock.send(self.outgoing)
        self.outgoing.clear()  # as if send took everything
        self.close_when_done()


class UsesSendall(OutgoingEcho):
    def handle_send(self):
        self.sock.sendall(self.outgoing)
        self.outgoing.clear()
        self.close_when_done()


class ClosesAtOnceOnEOF(OutgoingEcho):
    def close_when_done(self):
        if self.eof:  # forgets what is still queued
            self.handlers.remove(self)
            self.sock.close()


class IgnoresEOF(OutgoingEcho):
    def handle_receive(self):
        try:
            self.outgoing += self.sock.recv(65536)  # b"" adds nothing... and that is all
        except BlockingIOError:
            return


class NotAHandler:
    def __init__(self, sock, handlers):
        pass


class Stub(EventHandler):
    def __init__(self, sock, handlers):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def wants_to_send(self):
        raise NotImplementedError("Exercise 5.5: the stub")


@pytest.mark.parametrize("right", [OutgoingEcho, SlicesTheBuffer, SendsEagerly])
def test_5_5_passes_right_answers_written_differently(capsys, right):
    assert check_5_5(right).passed, capsys.readouterr().out
    assert verdict_of(capsys)[0] == "passed"


def test_5_5_not_attempted(capsys):
    assert not check_5_5(Stub).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        pytest.param(AlwaysWantsToSend, "busy loop", id="always wants to send"),
        pytest.param(ClearsAfterSend, "del self.outgoing[:sent]", id="ignores a partial send"),
        pytest.param(UsesSendall, "sendall", id="sendall on a non-blocking socket"),
        pytest.param(ClosesAtOnceOnEOF, "finish sending", id="closes at EOF with data queued"),
        pytest.param(IgnoresEOF, "b'' is EOF", id="ignores EOF"),
        pytest.param(NotAHandler, "EventHandler", id="not a handler"),
    ],
)
def test_5_5_fails_wrong_answers_naming_the_mistake(capsys, wrong, clue):
    assert not check_5_5(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
