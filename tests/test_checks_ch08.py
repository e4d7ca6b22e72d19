"""The checks of chapter 08's exercises, against right answers and typical wrong ones."""

from __future__ import annotations

import collections
import socket
import threading
import time

import pytest
from exercise_checks import hint_of, stub, verdict_of

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
                pass  # read every wake-up byte...
        except BlockingIOError:
            pass  # ...until there are none left
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
    status, out = verdict_of(capsys)
    assert status == "passed" and out == f"✓ Exercise {exercise} passed\n"


@pytest.mark.parametrize(
    "check, wrong, words",
    [
        (check_8_1, answer_blocking, "ran in the loop's thread"),
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
    status, out = verdict_of(capsys)
    assert status == "failed" and out.startswith("✗ Exercise 8.")
    assert words in out


@pytest.mark.parametrize(
    "check, answer", [(check_8_1, stub), (check_8_2, StubMailbox), (check_8_3, stub)]
)
def test_stubs_are_not_attempted(check, answer, capsys):
    assert not check(answer).passed
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- every further wrong answer, with a word its hint must contain --------------------------------


def answer_with_own_thread(loop, slow_square, n, reply):
    def work():
        loop.call_soon_threadsafe(reply, slow_square(n))

    threading.Thread(target=work, daemon=True).start()


def answer_waiting_for_the_future(loop, slow_square, n, reply):
    future = loop.run_in_executor(slow_square, n)
    reply(future.result())


def answer_later_in_the_loop(loop, slow_square, n, reply):
    loop.call_later(0.1, lambda: reply(slow_square(n)))


def answer_never_replies(loop, slow_square, n, reply):
    loop.run_in_executor(slow_square, n)


def answer_twice(loop, slow_square, n, reply):
    def done(future):
        reply(future.result())
        reply(future.result())

    loop.run_in_executor(slow_square, n, callback=done)


class WakesBeforeQueuing(Mailbox):
    def post(self, item):
        try:
            self.writer.send(b"\0")
        except BlockingIOError:
            pass
        self.queue.append(item)


class ReadsWithoutCatching(Mailbox):
    def handle_receive(self):
        while self.reader.recv(4096):
            pass
        while self.queue:
            self.received.append(self.queue.popleft())


class TakesItemsButLeavesBytes(Mailbox):
    def handle_receive(self):
        while self.queue:
            self.received.append(self.queue.popleft())


class MailboxWithALock(MailboxBase):
    """Right, written differently: a list under a lock, swapped out whole."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.items = []

    def post(self, item):
        with self.lock:
            self.items.append(item)
            self.queue.append(item)
        try:
            self.writer.send(b"\0")
        except BlockingIOError:
            pass

    def handle_receive(self):
        try:
            while self.reader.recv(65536):
                pass
        except BlockingIOError:
            pass
        with self.lock:
            self.queue.clear()
            items, self.items = self.items, []
        self.received.extend(items)


def compute_and_join(loop, fn, arg, callback):
    def work():
        loop.call_soon_threadsafe(callback, fn(arg))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def compute_in_the_caller(loop, fn, arg, callback):
    loop.call_soon(callback, fn(arg))


def compute_with_the_executor(loop, fn, arg, callback):
    loop.run_in_executor(fn, arg, callback=lambda future: callback(future.result()))


def compute_and_sleep_a_while(loop, fn, arg, callback):
    def work():
        result = fn(arg)
        time.sleep(0.6)
        loop.call_soon_threadsafe(callback, result)

    threading.Thread(target=work, daemon=True).start()


RIGHT = [
    pytest.param(check_8_1, answer_with_own_thread, id="8.1 own thread, call_soon_threadsafe"),
    pytest.param(check_8_2, MailboxWithALock, id="8.2 a list under a lock"),
    pytest.param(check_8_3, compute_with_the_executor, id="8.3 run_in_executor"),
]

WRONG = [
    pytest.param(check_8_1, answer_blocking, "loop's thread", id="8.1 blocks in the caller"),
    pytest.param(
        check_8_1,
        answer_waiting_for_the_future,
        "loop's thread",
        id="8.1 future.result() in the caller",
    ),  # fmt: skip
    pytest.param(check_8_1, answer_later_in_the_loop, "loop's thread", id="8.1 blocks the loop"),
    pytest.param(check_8_1, answer_from_the_worker, "loop's thread", id="8.1 reply in worker"),
    pytest.param(check_8_1, answer_with_the_future, "future.result()", id="8.1 the future"),
    pytest.param(check_8_1, answer_never_replies, "calls reply", id="8.1 never replies"),
    pytest.param(check_8_1, answer_twice, "exactly once", id="8.1 replies twice"),
    pytest.param(check_8_2, WakesBeforeQueuing, "append to the queue first", id="8.2 byte first"),
    pytest.param(check_8_2, PostRaisesWhenFull, "catch BlockingIOError", id="8.2 post raises"),
    pytest.param(check_8_2, ReadsWithoutCatching, "catch it", id="8.2 recv escapes"),
    pytest.param(check_8_2, ReadsOneByte, "recv until BlockingIOError", id="8.2 one byte"),
    pytest.param(check_8_2, TakesOneItemPerWakeUp, "every queued item", id="8.2 one item"),
    pytest.param(check_8_2, TakesItemsButLeavesBytes, "recv until", id="8.2 bytes left"),
    pytest.param(check_8_3, compute_and_join, "do not join", id="8.3 joins the thread"),
    pytest.param(check_8_3, compute_in_the_caller, "new thread", id="8.3 fn in the caller"),
    pytest.param(check_8_3, compute_without_waking, "PITFALL 20", id="8.3 call_soon"),
    pytest.param(
        check_8_3,
        compute_and_call_back_in_the_thread,
        "do not call it from the thread",
        id="8.3 callback in the worker",
    ),  # fmt: skip
    pytest.param(
        check_8_3, compute_and_sleep_a_while, "through the loop", id="8.3 result too late"
    ),
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_more_right_answers_pass(capsys, check, answer):
    assert check(answer).passed
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(("check", "wrong", "clue"), WRONG)
def test_wrong_answers_fail_naming_the_mistake(capsys, check, wrong, clue):
    assert not check(wrong).passed
    status, out = verdict_of(capsys)
    assert status == "failed", out
    assert clue in hint_of(out), out
