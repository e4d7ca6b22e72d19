"""Chapter 12's tools: instruments, the Chrome trace, the task monitor and the watchdog."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import pytest

import eventloop.aio
from eventloop.observe import (
    HookLog,
    Instrument,
    StallWatchdog,
    StepTimes,
    chrome_trace,
    format_tasks,
    save_chrome_trace,
    tasks_now,
)
from eventloop.recorder import Recorder


async def child() -> str:
    await asyncio.sleep(0)
    return "done"


async def parent() -> str:
    return await asyncio.create_task(child(), name="child")


# --- instruments ---------------------------------------------------------------------------------


def test_task_hooks_come_in_trios_order():
    log = HookLog()
    eventloop.aio.run(parent(), instruments=[log])
    lines = [line for line in log.lines if "child" in line]
    assert lines == [
        "spawned   child",
        "scheduled child",
        "step      child",  # runs to asyncio.sleep(0), which reschedules it
        "scheduled child",
        "step      child",
        "exited    child",
    ]


def test_every_hook_is_called_and_io_waits_are_counted():
    calls: dict[str, int] = {}

    class Counter(Instrument):
        def __getattribute__(self, name):
            if not name.startswith("_") and name != "__class__":
                calls[name] = calls.get(name, 0) + 1
            return object.__getattribute__(self, name)

    loop = eventloop.aio.new_event_loop(instruments=[Counter()])
    try:
        loop.run_until_complete(parent())
    finally:
        loop.close()
    hooks = [name for name in vars(Instrument) if not name.startswith("_")]
    assert sorted(calls) == sorted(hooks)
    assert calls["task_spawned"] == calls["task_exited"] == 2  # the parent and the child


def test_step_times_names_the_task_that_blocked():
    async def blocker():
        time.sleep(0.05)

    async def main():
        await asyncio.gather(
            asyncio.create_task(blocker(), name="blocker"),
            asyncio.create_task(child(), name="polite"),
        )

    steps = StepTimes()
    eventloop.aio.run(main(), instruments=[steps])
    assert steps.slowest().name == "blocker"
    counted = {s.name: s.steps for s in steps.tasks}
    assert (counted["blocker"], counted["polite"]) == (1, 2)  # polite: to sleep(0), then on
    assert steps.io_waits > 0
    assert steps.table().splitlines()[1].startswith("blocker")


def test_an_instrument_removed_hears_nothing_more():
    log = HookLog()
    loop = eventloop.aio.new_event_loop()
    try:
        loop.add_instrument(log)
        loop.run_until_complete(child())
        heard = len(log.lines)
        loop.remove_instrument(log)
        loop.run_until_complete(child())
        with pytest.raises(ValueError):
            loop.remove_instrument(log)
    finally:
        loop.close()
    assert heard > 0 and len(log.lines) == heard


def test_a_recorder_draws_one_row_per_task():
    recorder = Recorder()
    eventloop.aio.run(parent(), recorder=recorder)
    actions = {call.handler: call.action for call in recorder.handler_calls()}
    assert actions["Task child"] == "step"
    assert actions["EventLoop._run_ready"] == "callback"
    assert recorder.selects(), "the waits are recorded too"


def test_a_filtered_recording_keeps_only_what_was_asked_for():
    recorder = hand_made_recording()
    tasks = recorder.filtered(lambda event: getattr(event, "handler", "").startswith("Task"))
    assert tasks.trace() == ["Task fetch.callback raised ValueError: boom"]
    assert tasks.started == recorder.started
    assert len(recorder) == 4, "the original is unchanged"


# --- the Chrome trace ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def hand_made_recording() -> Recorder:
    recorder = Recorder(clock=FakeClock())
    recorder.record_select(0, 0.0, 0.25, [5], [], [5], [])
    recorder.record_handler(0, "UDPEchoServer", 5, "handle_receive", 0.25, 0.2505)
    recorder.record_handler(1, "Task fetch", -1, "callback", 0.3, 0.4, "ValueError: boom")
    recorder.note(1, "dropped UDPEchoServer: closed")
    return recorder


def test_a_trace_has_the_formats_structure():
    document = json.loads(json.dumps(chrome_trace(hand_made_recording())))
    assert document["displayTimeUnit"] == "ms"
    events = document["traceEvents"]
    for event in events:
        assert {"name", "ph", "pid", "tid"} <= set(event)
        assert event["ph"] in ("X", "i", "M")
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] == "X":
            assert isinstance(event["ts"], float) and event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] in ("g", "p", "t")
    named = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    used = {e["tid"] for e in events if e["ph"] != "M"}
    assert used <= set(named), "every track has a name"
    assert named == {1: "wait for readiness", 2: "UDPEchoServer", 3: "Task fetch"}


def test_a_trace_is_in_microseconds_and_keeps_what_happened():
    events = [e for e in chrome_trace(hand_made_recording())["traceEvents"] if e["ph"] != "M"]
    wait, receive, task, note = events
    assert (wait["ts"], wait["dur"], wait["name"]) == (0.0, 250000.0, "select → 1 ready")
    assert wait["args"]["ready read"] == [5]
    assert (receive["name"], receive["ts"], receive["dur"]) == (
        "handle_receive(fd 5)",
        250000.0,
        500.0,
    )
    assert receive["args"]["fd"] == 5
    assert (task["name"], task["cat"], task["args"]["error"]) == (
        "Task fetch",
        "error",
        "ValueError: boom",
    )
    assert (note["ph"], note["name"]) == ("i", "dropped UDPEchoServer: closed")


def test_a_trace_is_saved_as_json(tmp_path):
    recorder = hand_made_recording()
    path = recorder.save_chrome_trace(tmp_path / "loop.json")
    assert json.loads((tmp_path / "loop.json").read_text()) == recorder.chrome_trace()
    assert path == str(tmp_path / "loop.json")
    assert save_chrome_trace(recorder, tmp_path / "again.json").endswith("again.json")


def test_a_recorded_asyncio_program_makes_a_trace_with_its_tasks():
    recorder = Recorder()
    eventloop.aio.run(parent(), recorder=recorder)
    names = {
        e["args"]["name"]
        for e in recorder.chrome_trace()["traceEvents"]
        if e["name"] == "thread_name"
    }
    assert "Task child" in names


# --- watching from another thread ----------------------------------------------------------------


def blocked_program(release: threading.Event):
    """A task that blocks the loop's thread until ``release``, and one waiting on a queue."""

    async def waiter(queue: asyncio.Queue) -> None:
        await queue.get()

    async def blocker() -> None:
        release.wait(10)  # blocks the whole loop (the bug)

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        waiting = asyncio.create_task(waiter(queue), name="waiter")
        await asyncio.sleep(0)
        await asyncio.create_task(blocker(), name="blocker")
        waiting.cancel()

    return main


def test_tasks_are_listed_from_another_thread_while_the_loop_is_blocked():
    release = threading.Event()
    loop = eventloop.aio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(blocked_program(release)(),))
    thread.start()
    try:
        for _ in range(200):  # until the blocker runs (the loop cannot tell us: it is blocked)
            if any(s.name == "blocker" and s.state == "running" for s in tasks_now(loop)):
                break
            time.sleep(0.01)
        states = {state.name: state for state in tasks_now(loop)}
    finally:
        release.set()
        thread.join(10)
        loop.close()
    assert states["waiter"].where.endswith("in waiter")
    assert states["waiter"].state == "waiting"
    assert "in blocker" in states["blocker"].where
    assert states["blocker"].state == "running"
    assert "waiter" in format_tasks(list(states.values()))


def test_the_watchdog_catches_the_blocking_line():
    release = threading.Event()
    with StallWatchdog(threshold=0.05) as dog:
        threading.Timer(0.5, release.set).start()
        eventloop.aio.run(blocked_program(release)(), instruments=[dog])
    assert len(dog.stalls) == 1, dog.report()
    stall = dog.stalls[0]
    assert stall.name == "Task blocker"
    assert "name='blocker'" in stall.callback
    assert "in blocker: release.wait(10)" in stall.culprit
    assert dog.report().startswith("stalled ≥ ")
    assert "ms in Task blocker\n    at line " in dog.report()


def test_the_watchdog_is_quiet_when_nothing_blocks():
    with StallWatchdog(threshold=0.5) as dog:
        eventloop.aio.run(parent(), instruments=[dog])
    assert dog.stalls == []
    assert dog.report() == "no callback ran longer than 500 ms"


def test_run_in_thread_returns_the_result_and_passes_the_options():
    recorder = Recorder()
    assert eventloop.aio.run_in_thread(parent, recorder=recorder) == "done"
    assert recorder.handler_calls()


def test_run_in_thread_raises_what_the_coroutine_raised():
    async def fail():
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        eventloop.aio.run_in_thread(fail)


def test_run_in_thread_cancels_a_coroutine_past_its_timeout():
    cancelled = threading.Event()

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match="still running after 0.2 s: cancelled"):
        eventloop.aio.run_in_thread(forever, timeout=0.2)
    assert cancelled.wait(2)


def test_run_in_thread_says_when_a_blocked_loop_cannot_be_cancelled(monkeypatch):
    monkeypatch.setattr(eventloop.aio.runner, "CANCEL_GRACE", 0.1)
    release = threading.Event()

    async def blocked():
        release.wait(5)  # a blocking call: no await for the cancellation to land on

    try:
        with pytest.raises(TimeoutError, match="still blocked .* a blocking call cannot be"):
            eventloop.aio.run_in_thread(blocked, timeout=0.2)
    finally:
        release.set()
        for thread in threading.enumerate():  # it finishes, and closes its loop
            if thread.name == "eventloop-aio-run":
                thread.join(5)


def test_run_in_thread_returns_what_a_cancelled_coroutine_still_returned():
    async def tidy():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return "tidied up"

    assert eventloop.aio.run_in_thread(tidy, timeout=0.2) == "tidied up"


def test_a_call_soon_of_a_tasks_method_is_not_a_step():
    log = HookLog()

    async def main():
        sleeper = asyncio.create_task(asyncio.sleep(10), name="sleeper")
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon(sleeper.cancel)  # a callback, not sleeper's step
        with pytest.raises(asyncio.CancelledError):
            await sleeper

    eventloop.aio.run(main(), instruments=[log])
    mine = [line for line in log.lines if line.endswith("sleeper")]
    assert [line.split()[0] for line in mine] == [
        "spawned",
        "scheduled",
        "step",
        "scheduled",
        "step",
        "exited",
    ]  # the cancel's wake-up is its second step: CancelledError thrown in


def test_an_instrument_that_raises_is_reported_and_removed_and_the_program_goes_on(caplog):
    class Broken(Instrument):
        def __init__(self):
            self.calls = 0

        def before_task_step(self, task):
            self.calls += 1
            if self.calls == 2:
                raise ValueError("a bug in a tool")

    broken = Broken()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        assert eventloop.aio.run(parent(), instruments=[broken]) == "done"
    assert broken.calls == 2, "removed after it raised"
    [message] = [r.getMessage() for r in caplog.records]
    assert "raised in before_task_step(); removed" in message


def test_step_times_keeps_tasks_apart_when_python_reuses_their_ids():
    async def main():
        for number in range(50):  # one after another: a finished task's id is free again
            await asyncio.create_task(child(), name=f"request {number}")

    steps = StepTimes()
    eventloop.aio.run(main(), instruments=[steps])
    requests = [s for s in steps.tasks if s.name.startswith("request")]
    assert len(requests) == 50
    assert {s.steps for s in requests} == {2}


def test_the_watchdog_reports_each_stall_of_a_reader_callback():
    import socket

    async def main():
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        done = loop.create_future()

        def slow_read():  # add_reader keeps one handle for every call of this callback
            left.recv(1)
            time.sleep(0.12)
            if not done.done() and len(calls) == 2:
                done.set_result(None)
            calls.append(1)

        calls: list[int] = []
        left.setblocking(False)
        loop.add_reader(left, slow_read)
        right.send(b"xyz")  # three readable bytes, one per call
        try:
            await asyncio.wait_for(done, 5)
        finally:
            loop.remove_reader(left)
            left.close()
            right.close()

    with StallWatchdog(threshold=0.05) as dog:
        eventloop.aio.run(main(), instruments=[dog])
    assert len(dog.stalls) == 3, dog.report()
    assert all("time.sleep(0.12)" in stall.culprit for stall in dog.stalls)
