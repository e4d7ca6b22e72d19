"""The checks of chapter 10's exercises, against right answers and the mistakes learners make."""

from __future__ import annotations

import time

import pytest
from exercise_checks import hint_of, stub, verdict_of

from eventloop.checks.ch10 import check_10_1, check_10_2, check_10_3
from eventloop.coroutines import Future

# --- 10.1 ----------------------------------------------------------------------------------------


class RightFuture:
    def __init__(self, loop):
        self.loop, self.done, self.value, self.callbacks = loop, False, None, []

    def set_result(self, value):
        if self.done:
            raise RuntimeError("set twice")
        self.value, self.done = value, True
        for callback in self.callbacks:
            self.loop.call_soon(callback, self)

    def add_done_callback(self, callback):
        if self.done:
            self.loop.call_soon(callback, self)
        else:
            self.callbacks.append(callback)


class AlsoRightFuture(RightFuture):  # written differently: callbacks popped, not kept
    def set_result(self, value):
        assert not self.done, "only once"
        self.done, self.value = True, value
        while self.callbacks:
            self.loop.call_soon(self.callbacks.pop(0), self)


class CallsAtOnce(RightFuture):  # the crawler's bug 2
    def set_result(self, value):
        self.value, self.done = value, True
        for callback in self.callbacks:
            callback(self)


class ForgetsLateCallbacks(RightFuture):
    def add_done_callback(self, callback):
        self.callbacks.append(callback)


class LateCallbackAtOnce(RightFuture):
    def add_done_callback(self, callback):
        if self.done:
            callback(self)
        else:
            self.callbacks.append(callback)


class SetsTwice(RightFuture):
    def set_result(self, value):
        self.value, self.done = value, True
        for callback in self.callbacks:
            self.loop.call_soon(callback, self)
        self.callbacks = []


class PassesTheValue(RightFuture):
    def set_result(self, value):
        if self.done:
            raise RuntimeError
        self.value, self.done = value, True
        for callback in self.callbacks:
            self.loop.call_soon(callback, value)


class NeverDone(RightFuture):
    def set_result(self, value):
        self.value = value
        for callback in self.callbacks:
            self.loop.call_soon(callback, self)


@pytest.mark.parametrize("answer", [RightFuture, AlsoRightFuture])
def test_10_1_right_answers_pass(capsys, answer):
    check_10_1(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (CallsAtOnce, "call_soon(callback, self)"),
        (ForgetsLateCallbacks, "schedule the callback at once"),
        (LateCallbackAtOnce, "when the future is already done, schedule"),
        (SetsTwice, "set only once"),
        (PassesTheValue, "passing the future itself"),
        (NeverDone, "future.done"),
    ],
)
def test_10_1_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_10_1(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out


def test_10_1_stub_is_not_attempted(capsys):
    class Stub(RightFuture):
        set_result = stub
        add_done_callback = stub

    check_10_1(Stub)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 10.2 ----------------------------------------------------------------------------------------


async def my_sleep(loop, delay, result=None):
    future = Future(loop)
    timer = loop.call_later(delay, lambda: future.done() or future.set_result(result))
    try:
        return await future
    finally:
        timer.cancel()


async def also_right(loop, delay, result=None):  # checks cancelled() instead of done()
    future = Future(loop)

    def wake():
        if not future.cancelled():
            future.set_result(result)

    timer = loop.call_at(loop.time() + delay, wake)
    try:
        await future
    finally:
        timer.cancel()
    return result


async def time_sleep(loop, delay, result=None):
    time.sleep(delay)
    return result


async def no_await(loop, delay, result=None):
    loop.call_later(delay, lambda: None)
    return result


async def forgets_result(loop, delay, result=None):
    future = Future(loop)
    timer = loop.call_later(delay, future.set_result, None)
    try:
        return await future
    finally:
        timer.cancel()


async def leaves_its_timer(loop, delay, result=None):
    future = Future(loop)
    loop.call_later(delay, lambda: future.done() or future.set_result(result))
    return await future


@pytest.mark.parametrize("answer", [my_sleep, also_right])
def test_10_2_right_answers_pass(capsys, answer):
    check_10_2(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (time_sleep, "time.sleep blocks the whole loop"),
        (no_await, "returned too early"),
        (forgets_result, "set the future's result to `result`"),
        (leaves_its_timer, "cancel it in a `finally:`"),
    ],
)
def test_10_2_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_10_2(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out, out


def test_10_2_stub_is_not_attempted(capsys):
    async def stubbed(loop, delay, result=None):
        stub()

    check_10_2(stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 10.3 ----------------------------------------------------------------------------------------


class BuggyTask(Future):
    def __init__(self, coro, loop):
        super().__init__(loop)
        self.coro = coro
        loop.call_soon(self.step)

    def step(self, future=None):
        try:
            waiting_on = self.coro.send(None)
        except StopIteration as returned:
            self.set_result(returned.value)
            return
        waiting_on._asyncio_future_blocking = False
        waiting_on.add_done_callback(self.step)


class FixedTask(BuggyTask):
    def step(self, future=None):
        try:
            waiting_on = self.coro.send(None)
        except StopIteration as returned:
            self.set_result(returned.value)
            return
        except Exception as error:
            self.set_exception(error)
            return
        waiting_on._asyncio_future_blocking = False
        waiting_on.add_done_callback(self.step)


class AlsoFixed(BuggyTask):  # written differently: one try around everything
    def step(self, future=None):
        try:
            waiting_on = self.coro.send(None)
            waiting_on._asyncio_future_blocking = False
            waiting_on.add_done_callback(self.step)
        except StopIteration as returned:
            self.set_result(returned.value)
        except Exception as error:
            self.set_exception(error)


class Swallows(BuggyTask):
    def step(self, future=None):
        try:
            super().step(future)
        except Exception:
            pass


class OnlyValueError(BuggyTask):
    def step(self, future=None):
        try:
            super().step(future)
        except ValueError as error:
            self.set_exception(error)


@pytest.mark.parametrize("answer", [FixedTask, AlsoFixed])
def test_10_3_right_answers_pass(capsys, answer):
    check_10_3(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (BuggyTask, "escaped from step into the loop"),
        (Swallows, "not `pass`"),
        (OnlyValueError, "escaped from step into the loop"),
    ],
)
def test_10_3_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_10_3(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in out, out
    assert hint_of(out)


def test_10_3_stub_is_not_attempted(capsys):
    class Stubbed(BuggyTask):
        step = stub

    check_10_3(Stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"
