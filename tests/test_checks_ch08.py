"""The checks of chapter 08's exercises, against right answers and typical wrong ones."""

from __future__ import annotations

import collections
import socket
import threading

import pytest
from exercise_checks import stub

from eventloop.checks.ch08 import check_8_1, check_8_2, check_8_3
from eventloop.handlers import EventHandler

# --- 8.1 -----------------------------------------------------------------------------------------


def answer_later(loop, slow_square, n, reply):
    loop.run_in_executor(slow_square, n, callback=lambda future: reply(future.result()))


def answer_blocking(loop, slow_square, n, reply):
    reply(slow_square(n))


def answer_from_the_worker(loop, slow_square, n, reply):
    loop.run_in_executor(lambda: reply(slow_square(n)))


def answer_with_the_future(loop, slow_square, n, reply):
    loop.run_in_executor(slow_square, n, callback=reply)


# --- 8.2 -----------------------------------------------------------------------------------------


class MailboxBase(EventHandler):
    def __init__(self):
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        self.queue = collections.deque()
        self.received = []

    def fileno(self):
        return self.reader.fileno()

    def wants_to_receive(self):
        return True

    def close(self):
        self.reader.close()
        self.writer.close()


class Mailbox(MailboxBase):
    def post(self, item):
        self.queue.append(item)
        try:
            self.writer.send(b"\0")
        except BlockingIOError:
            pass

    def handle_receive(self):
        try:
            while self.reader.recv(4096):
                pass              # read every wake-up byte...
        except BlockingIOError:
            pass                  # ...until there are none left
        while self.queue:
            self.received.append(self.queue.popleft())


class PostRaisesWhenFull(Mailbox):
    def post(self, item):
        self.queue.append(item)
        self.writer.send(b"\0")


class ReadsOneByte(Mailbox):
    def handle_receive(self):
        self.reader.recv(1)
        while self.queue:
            self.received.append(self.queue.popleft())


class TakesOneItemPerWakeUp(Mailbox):
    def handle_receive(self):
        try:
            self.reader.recv(1)
        except BlockingIOError:
            return
        if self.queue:
            self.received.append(self.queue.popleft())


class StubMailbox(MailboxBase):
    def post(self, item):
        raise NotImplementedError("Exercise 8.2: ...")

    def handle_receive(self):
        raise NotImplementedError("Exercise 8.2: ...")


# --- 8.3 -----------------------------------------------------------------------------------------


def compute_in_thread(loop, fn, arg, callback):
    def work():
        loop.call_soon_threadsafe(callback, fn(arg))

    threading.Thread(target=work).start()


def compute_without_waking(loop, fn, arg, callback):
    def work():
        loop.call_soon(callback, fn(arg))

    threading.Thread(target=work).start()


def compute_and_call_back_in_the_thread(loop, fn, arg, callback):
    threading.Thread(target=lambda: callback(fn(arg))).start()


# --- the verdicts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, answer, exercise",
    [
        (check_8_1, answer_later, "8.1"),
        (check_8_2, Mailbox, "8.2"),
        (check_8_3, compute_in_thread, "8.3"),
    ],
)
def test_right_answers_pass(check, answer, exercise, capsys):
    assert check(answer).passed
    assert capsys.readouterr().out == f"✓ Exercise {exercise} passed\n"


@pytest.mark.parametrize(
    "check, wrong, words",
    [
        (check_8_1, answer_blocking, "the loop was blocked"),
        (check_8_1, answer_from_the_worker, "another thread"),
        (check_8_1, answer_with_the_future, "future.result()"),
        (check_8_2, PostRaisesWhenFull, "catch BlockingIOError"),
        (check_8_2, ReadsOneByte, "still readable"),
        (check_8_2, TakesOneItemPerWakeUp, "items arrived"),
        (check_8_3, compute_without_waking, "nothing woke it"),
        (check_8_3, compute_and_call_back_in_the_thread, "in the worker thread"),
        (check_8_3, lambda loop, fn, arg, callback: None, "never ran"),
    ],
)
def test_typical_wrong_answers_fail_with_what_is_wrong(check, wrong, words, capsys):
    assert not check(wrong).passed
    out = capsys.readouterr().out
    assert out.startswith("✗ Exercise 8.")
    assert words in out


@pytest.mark.parametrize(
    "check, answer", [(check_8_1, stub), (check_8_2, StubMailbox), (check_8_3, stub)]
)
def test_stubs_are_not_attempted(check, answer, capsys):
    assert not check(answer).passed
    assert "not attempted yet" in capsys.readouterr().out
