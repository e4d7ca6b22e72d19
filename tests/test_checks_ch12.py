"""The checks of chapter 12's exercises, against right answers and the mistakes learners make."""

from __future__ import annotations

import asyncio

import pytest
from exercise_checks import hint_of, stub, verdict_of

from eventloop.aio.watching import handle_name, task_of
from eventloop.checks.ch12 import check_12_1, check_12_2, check_12_3, lookup_user
from eventloop.observe import Instrument

# --- 12.1 ----------------------------------------------------------------------------------------


def to_trace_event(event, tid):
    return {
        "name": event.label,
        "ph": "X",
        "ts": event.began * 1_000_000,
        "dur": event.duration * 1_000_000,
        "pid": 1,
        "tid": tid,
    }


def rounded_to_whole_microseconds(event, tid):  # written differently
    return {
        "name": event.label,
        "ph": "X",
        "ts": round(event.began * 1e6),
        "dur": round((event.ended - event.began) * 1e6),
        "pid": 1,
        "tid": tid,
    }


def named_like_chrome_trace(event, tid):  # written differently: a task's step by its name
    return {**to_trace_event(event, tid), "name": event.handler if event.fd < 0 else event.label}


def named_by_action(event, tid):
    return {**to_trace_event(event, tid), "name": event.action}


def in_seconds(event, tid):
    return {**to_trace_event(event, tid), "ts": event.began, "dur": event.duration}


def in_milliseconds(event, tid):
    return {**to_trace_event(event, tid), "ts": event.began * 1000, "dur": event.duration * 1000}


def dur_is_the_end(event, tid):
    return {**to_trace_event(event, tid), "dur": event.ended * 1_000_000}


def no_phase(event, tid):
    answer = to_trace_event(event, tid)
    del answer["ph"]
    return answer


def begin_phase(event, tid):
    return {**to_trace_event(event, tid), "ph": "B"}


def tid_ignored(event, tid):
    return {**to_trace_event(event, tid), "tid": 1}


@pytest.mark.parametrize(
    "answer", [to_trace_event, rounded_to_whole_microseconds, named_like_chrome_trace]
)
def test_12_1_right_answers_pass(capsys, answer):
    check_12_1(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (
            in_seconds,
            "ts is in seconds: ts and dur are microseconds: multiply seconds by 1,000,000",
        ),
        (in_milliseconds, "ts is in milliseconds: ts and dur are microseconds"),
        (dur_is_the_end, "dur is how long, not when it ended"),
        (no_phase, '"ph" (the phase) is missing'),
        (begin_phase, '"B" begins a slice that an "E" event must end'),
        (tid_ignored, "use the tid you are given"),
        (named_by_action, "name the slice by what ran: event.label"),
    ],
)
def test_12_1_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_12_1(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in hint_of(out), out


def test_12_1_stub_is_not_attempted(capsys):
    check_12_1(stub)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 12.2 ----------------------------------------------------------------------------------------


class LongestStep(Instrument):
    def __init__(self):
        self.longest = {}

    def after_callback(self, handle, seconds):
        task = task_of(handle)
        if task is not None:
            name = task.get_name()
            self.longest[name] = max(self.longest.get(name, 0.0), seconds)


class LongestStepByHooks(Instrument):  # written differently: times the step itself
    def __init__(self):
        self.longest = {}
        self.began = {}

    def before_task_step(self, task):
        self.began[task] = asyncio.get_running_loop().time()

    def after_task_step(self, task):
        took = asyncio.get_running_loop().time() - self.began.pop(task)
        if took > self.longest.get(task.get_name(), -1.0):
            self.longest[task.get_name()] = took


class LongestStepWithoutTheBaseClass:  # written differently: only the hook it needs
    def __init__(self):
        self.longest = {}

    def after_callback(self, handle, seconds):
        if (task := task_of(handle)) is not None:
            self.longest[task.get_name()] = max(self.longest.get(task.get_name(), 0), seconds)


class Total(LongestStep):
    def after_callback(self, handle, seconds):
        task = task_of(handle)
        if task is not None:
            name = task.get_name()
            self.longest[name] = self.longest.get(name, 0.0) + seconds


class ByCallbackName(LongestStep):
    def after_callback(self, handle, seconds):
        callback = handle._callback
        name = getattr(callback, "__qualname__", repr(callback))
        self.longest[name] = max(self.longest.get(name, 0.0), seconds)


class LastStep(LongestStep):
    def after_callback(self, handle, seconds):
        task = task_of(handle)
        if task is not None:
            self.longest[task.get_name()] = seconds


class ById(LongestStep):
    def after_callback(self, handle, seconds):
        task = task_of(handle)
        if task is not None:
            self.longest[id(task)] = max(self.longest.get(id(task), 0.0), seconds)


class ByHandleName(LongestStep):
    def after_callback(self, handle, seconds):
        if task_of(handle) is not None:
            name = handle_name(handle)  # "Task slow": the recorder's row, not the task's name
            self.longest[name] = max(self.longest.get(name, 0.0), seconds)


class ByTask(LongestStep):
    def after_callback(self, handle, seconds):
        if (task := task_of(handle)) is not None:
            self.longest[task] = max(self.longest.get(task, 0.0), seconds)


@pytest.mark.parametrize(
    "answer", [LongestStep, LongestStepByHooks, LongestStepWithoutTheBaseClass]
)
def test_12_2_right_answers_pass(capsys, answer):
    check_12_2(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (Total, "the total of every step, not the longest one"),
        (ByCallbackName, "name a step by its task: task_of(handle).get_name()"),
        (LastStep, "was it the last step's time?"),
        (ById, "the keys look like id(task)"),
        (ByHandleName, 'the key is the task\'s name itself, "slow"'),
        (ByTask, "the keys are Task objects"),
    ],
)
def test_12_2_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_12_2(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in hint_of(out), out


def test_12_2_stub_is_not_attempted(capsys):
    class Stubbed(Instrument):
        def __init__(self):
            self.longest = {}

        def after_callback(self, handle, seconds):
            stub()

    check_12_2(Stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"


# --- 12.3 ----------------------------------------------------------------------------------------


async def handle_request(name):
    return await asyncio.get_running_loop().run_in_executor(None, lookup_user, name)


async def handle_request_to_thread(name):  # written differently
    return await asyncio.to_thread(lookup_user, name)


async def calls_it_directly(name):
    return lookup_user(name)


async def passes_its_result(name):
    return await asyncio.get_running_loop().run_in_executor(None, lookup_user(name))


async def forgets_await(name):
    return asyncio.get_running_loop().run_in_executor(None, lookup_user, name)


async def makes_it_up(name):
    await asyncio.sleep(0.1)
    return f"user:{name}"


async def drops_the_work(name):
    await asyncio.sleep(0.1)
    return name


@pytest.mark.parametrize("answer", [handle_request, handle_request_to_thread])
def test_12_3_right_answers_pass(capsys, answer):
    check_12_3(answer)
    assert verdict_of(capsys)[0] == "passed"


@pytest.mark.parametrize(
    ("wrong", "clue"),
    [
        (calls_it_directly, "lookup_user blocks the loop's thread: run it in a thread"),
        (passes_its_result, "pass the function and its argument, not its result"),
        (forgets_await, "await it"),
        (makes_it_up, "still do the lookup, in a thread"),
        (drops_the_work, "still do the lookup, in a thread"),
    ],
)
def test_12_3_wrong_answers_fail_naming_the_mistake(capsys, wrong, clue):
    check_12_3(wrong)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert clue in hint_of(out), out


def test_12_3_a_blocking_call_is_named_by_its_line(capsys):
    check_12_3(calls_it_directly)
    out = verdict_of(capsys)[1]
    assert "the loop stalled for" in out
    assert "of test_checks_ch12.py, in calls_it_directly: return lookup_user(name)" in out, out


def test_12_3_stub_is_not_attempted(capsys):
    async def stubbed(name):
        stub()

    check_12_3(stubbed)
    assert verdict_of(capsys)[0] == "not attempted yet"
