"""The judge: the learner's code in a candidate process, and verdicts that say whose fault it is.

Each test gives the judge an answer that behaves one way (right, wrong, raising,
ending its process, hanging, leaking) and asserts the verdict and its wording.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
from exercise_checks import verdict_of

from eventloop.checks import CheckFailed, expect_equal
from eventloop.judge.candidate import Candidate, LearnerRaised, Named
from eventloop.judge.channel import Opaque, decode, encode
from eventloop.judge.trial import Trial, judge

# --- the channel ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, 3, 2.5, "text", b"\x00\xff", (1, b"a"), [1, [2]], {"k": (1, 2)}, {1, 2}],
)
def test_plain_values_come_back_as_they_were(value):
    assert decode(encode(value)) == value


def test_an_object_that_claims_to_equal_everything_is_opaque():
    class Liar:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    back = decode(encode(Liar()))
    assert isinstance(back, Opaque)
    assert back != True  # noqa: E712 (the point: it is not True)
    assert back != 0


def test_a_repr_that_raises_does_not_break_the_encoding():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert "repr raised RuntimeError" in repr(decode(encode(Broken())))


# --- the candidate --------------------------------------------------------------------------------


def add(a, b):
    return a + b


def echo_once(sock):
    data, sender = sock.recvfrom(100)
    sock.sendto(data, sender)
    return len(data)


def test_a_call_runs_in_another_process_and_returns_its_value():
    with Candidate() as candidate:
        remote = candidate.wrap("add", add)
        assert remote(2, 3) == 5
        assert candidate.call("add", "a", b="b") == "ab"
        assert candidate.pid != os.getpid()


def test_sockets_are_handed_over_and_stay_open_in_the_judge():
    with Candidate() as candidate, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.sendto(b"hello", server.getsockname())
            assert candidate.wrap("echo_once", echo_once)(server) == 5
            client.settimeout(2)
            assert client.recvfrom(100) == (b"hello", server.getsockname())
        assert server.fileno() >= 0


def test_state_kept_between_calls_lives_in_the_candidate_not_in_the_judge():
    seen = []

    def remember(x):
        seen.append(x)
        return len(seen)

    with Candidate() as candidate:
        remote = candidate.wrap("remember", remember)
        assert [remote(1), remote(2)] == [1, 2]
    assert seen == []


def test_an_exception_is_reported_with_the_learners_line_and_traceback():
    def divide(a):
        return 1 / a

    with Candidate() as candidate:
        with pytest.raises(LearnerRaised) as raised:
            candidate.wrap("divide", divide)(0)
    assert raised.value.raised.type == "ZeroDivisionError"
    assert "return 1 / a" in raised.value.raised.traceback
    assert "eventloop/judge" not in raised.value.raised.traceback


def test_a_call_past_its_limit_kills_the_candidate_and_its_children(tmp_path):
    def spawn_and_hang(pid_file):
        import pathlib
        import sys
        import time

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pathlib.Path(pid_file).write_text(str(child.pid))
        time.sleep(60)

    with Candidate() as candidate:
        remote = candidate.wrap("spawn_and_hang", spawn_and_hang, time_limit=2.0)
        with pytest.raises(Exception, match="still running after 2 s"):
            remote(str(tmp_path / "pid"))
        grandchild = int((tmp_path / "pid").read_text())
        assert candidate.process is None or candidate.process.poll() is not None
    assert gone(grandchild)


def gone(pid: int, patience: float = 3.0) -> bool:
    """Is ``pid`` dead (or a zombie waiting for init to reap it), within ``patience`` seconds?

    SIGKILL is delivered asynchronously: on a busy machine the process may take a
    moment to die.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# --- verdicts: whose fault is it ------------------------------------------------------------------


def scenario_add(trial: Trial) -> None:
    for _ in range(3):
        a, b = trial.random.randint(-99, 99), trial.random.randint(-99, 99)
        trial.case = f"add({a}, {b})"
        expect_equal(trial.case, trial["add"](a, b), a + b, hint="add the two numbers")


def check_add(answer, **options):
    return judge("0.1", {"add": answer}, scenario_add, time_limit=3, **options)


def test_a_right_answer_passes(capsys):
    assert check_add(add).passed
    assert verdict_of(capsys)[0] == "passed"


def test_only_the_stubs_own_error_is_not_attempted(capsys):
    def stub(a, b):
        raise NotImplementedError("Exercise 0.1: add")

    def missing_method(a, b):
        raise NotImplementedError("our loop does not provide this")

    assert verdict_of_call(capsys, check_add, stub)[0] == "not attempted yet"
    status, out = verdict_of_call(capsys, check_add, missing_method)
    assert status == "failed"
    assert "your code raised NotImplementedError: our loop does not provide this" in out


def verdict_of_call(capsys, check, answer):
    check(answer)
    return verdict_of(capsys)


def test_a_wrong_answer_shows_the_case_and_its_seed_which_replays_it(capsys):
    def off_by_one(a, b):
        return a + b + 1

    status, out = verdict_of_call(capsys, lambda answer: check_add(answer, seed=1234), off_by_one)
    assert status == "failed"
    assert "(seed 1234; pass seed=1234 to the check to repeat it)" in out
    case = [line for line in out.splitlines() if "case:" in line]
    check_add(off_by_one, seed=1234)
    assert case == [line for line in capsys.readouterr().out.splitlines() if "case:" in line]


@pytest.mark.parametrize(
    ("ending", "words"),
    [
        ("raise SystemExit(3)", "your code raised SystemExit: 3"),
        ("raise KeyboardInterrupt", "your code raised KeyboardInterrupt"),
        ("os._exit(0)", "the process running your code ended (exit status 0)"),
        ("os.kill(os.getpid(), 9)", "ended (killed by SIGKILL)"),
    ],
)
def test_an_answer_that_ends_the_program_is_its_own_failure(capsys, ending, words):
    namespace = {"os": os}
    exec(f"def ends(a, b):\n    {ending}\n", namespace)
    status, out = verdict_of_call(capsys, check_add, namespace["ends"])
    assert status == "failed"
    assert words in out


def test_the_checks_own_failure_is_never_blamed_on_the_learner(capsys):
    def broken_scenario(trial):
        trial["add"](1, 2)
        raise ConnectionRefusedError("the check's own client")

    judge("0.2", {"add": add}, broken_scenario)
    status, out = verdict_of(capsys)
    assert status == "failed"
    assert "the check could not run: ConnectionRefusedError" in out
    assert "your code" not in out.splitlines()[0]


def test_an_answer_that_cannot_be_shipped_is_said_plainly(capsys):
    lock = threading.Lock()

    def uses_a_lock(a, b):
        with lock:
            return a + b

    status, out = verdict_of_call(capsys, check_add, uses_a_lock)
    assert status == "failed"
    assert "your answer could not be sent to it" in out


def test_what_the_learners_code_printed_is_shown_with_a_wrong_answer(capsys):
    def chatty(a, b):
        print("adding", a, b)
        return 0

    _, out = verdict_of_call(capsys, check_add, chatty)
    assert "your code printed:" in out
    assert "adding" in out


# --- what the judge reads from outside ------------------------------------------------------------


def test_usage_sees_threads_descriptors_and_non_loopback_binds():
    def leave_things_behind():
        import socket as sockets
        import threading as threads

        keep = sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM)
        keep.bind(("0.0.0.0", 0))
        threads.Thread(target=threads.Event().wait, args=(30,), daemon=True).start()
        globals()["kept"] = keep

    with Candidate() as candidate:
        remote = candidate.wrap("leave", leave_things_behind)
        before = candidate.usage()
        remote()
        after = candidate.usage() - before
    assert after.threads == 1
    assert after.descriptors >= 1
    assert after.non_loopback and after.non_loopback[0].startswith("0.0.0.0:")


def test_a_socket_dropped_without_close_is_reported_as_unclosed():
    def drop():
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    with Candidate() as candidate:
        candidate.wrap("drop", drop)()
        assert candidate.unclosed and "unclosed" in candidate.unclosed[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="schedstat is Linux's")
def test_a_busy_loop_is_runnable_the_whole_time_and_a_sleep_is_not():
    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    with Candidate() as candidate:
        spinner = candidate.wrap("spin", spin)
        sleeper = candidate.wrap("sleep", time.sleep)
        for remote, busy in ((spinner, True), (sleeper, False)):
            before, began = candidate.usage(), time.monotonic()
            remote(0.3)
            used, wall = candidate.usage() - before, time.monotonic() - began
            assert used.load_proof
            assert used.busy(wall) is busy, used


def test_a_check_failure_inside_the_scenario_is_the_learners(capsys):
    def scenario(trial):
        if trial["add"](1, 1) != 2:
            raise CheckFailed("1 + 1 is not 2", hint="add them")

    judge("0.3", {"add": lambda a, b: a - b}, scenario)
    status, out = verdict_of(capsys)
    assert (status, "hint:     add them" in out) == ("failed", True)


def test_a_course_function_in_the_candidate_can_be_handed_the_learners_class():
    class Counter:
        made = 0

        def __init__(self):
            Counter.made += 1

    with Candidate() as candidate:
        candidate.define("Counter", Counter)
        make = candidate.wrap("make", make_one)  # a test-module function: shipped by value
        assert [make(Named("Counter")), make(Named("Counter"))] == [1, 2]


def make_one(cls):
    """Make one instance of ``cls``; return how many it has made (state lives on the class)."""
    cls()
    return cls.made
