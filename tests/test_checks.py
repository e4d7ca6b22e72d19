"""eventloop.checks: one verdict line per check, in the three forms `grade` reads back."""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable

import pytest

from eventloop.checks import (
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    VERDICT_LINE,
    CheckFailed,
    CheckTimedOut,
    expect_equal,
    verdict,
)

CELL_FILE = "/tmp/ipykernel_4242/1234567.py"  # how ipykernel names the code of a cell


def learner_function(source: str, name: str) -> Callable[..., object]:
    """Define ``name`` as if the learner typed ``source`` in a notebook cell."""
    namespace: dict[str, object] = {}
    exec(compile(source, CELL_FILE, "exec"), namespace)
    function = namespace[name]
    assert callable(function)
    return function


def run(
    capsys: pytest.CaptureFixture[str], check: Callable[[], None], **options: float
) -> tuple[bool, list[str]]:
    """Run ``verdict("3.2", check)``; return whether it passed and the lines it printed."""
    result = verdict("3.2", check, **options)
    return result.passed, capsys.readouterr().out.splitlines()


def verdict_lines(lines: list[str]) -> list[dict[str, str | None]]:
    return [m.groupdict() for line in lines if (m := VERDICT_LINE.match(line))]


def test_passed(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, lambda: None) == (True, ["✓ Exercise 3.2 passed"])


def test_failed_with_expected_got_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    def check() -> None:
        raise CheckFailed("the reply is not right", expected=b"HELLO", got=b"hello", hint="upper()")

    assert run(capsys, check) == (
        False,
        [
            "✗ Exercise 3.2 failed: the reply is not right",
            "    expected: b'HELLO'",
            "    got:      b'hello'",
            "    hint:     upper()",
        ],
    )


def test_failed_without_details_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def check() -> None:
        raise CheckFailed("the server never answered")

    assert run(capsys, check) == (False, ["✗ Exercise 3.2 failed: the server never answered"])


def test_expect_equal_shows_reprs(capsys: pytest.CaptureFixture[str]) -> None:
    def check() -> None:
        expect_equal("the echo", "1", 1, hint="compare bytes with bytes")

    assert run(capsys, check)[1] == [
        "✗ Exercise 3.2 failed: the echo is not right",
        "    expected: 1",
        "    got:      '1'",
        "    hint:     compare bytes with bytes",
    ]
    expect_equal("equal things", [1, 2], [1, 2])  # no exception when equal


def test_expect_equal_keeps_falsy_expected_values(capsys: pytest.CaptureFixture[str]) -> None:
    """`expected: None` / `got: None` must still be shown: a repr is never None."""
    assert run(capsys, lambda: expect_equal("the reply", None, b""))[1][1:3] == [
        "    expected: b''",
        "    got:      None",
    ]


def test_the_stub_means_not_attempted(capsys: pytest.CaptureFixture[str]) -> None:
    stub = learner_function(
        "def echo(data):\n"
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Exercise 3.2: echo the data")\n',
        "echo",
    )
    result, lines = run(capsys, lambda: expect_equal("echo", stub(b"x"), b"x"))
    assert result is False
    assert len(lines) == 1
    assert lines[0].startswith(
        "○ Exercise 3.2 not attempted yet: replace `raise NotImplementedError"
    )


def test_a_learner_exception_says_what_and_where_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = learner_function(
        "def first_word(data):\n    words = data.split()\n    return words[5]\n",
        "first_word",
    )
    result, lines = run(capsys, lambda: expect_equal("first word", answer(b"a b"), b"a"))
    assert result is False
    assert lines == [
        "✗ Exercise 3.2 failed: your code raised IndexError: list index out of range "
        "(line 3 of your cell)",
        "    hint:     run the exercise cell on its own to see the full traceback.",
    ]


def test_an_error_inside_a_library_points_at_the_learners_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = learner_function(
        "import json\n\ndef parse(text):\n    return json.loads(text)\n",
        "parse",
    )
    _, lines = run(capsys, lambda: answer("{not json"))
    assert lines[0].startswith("✗ Exercise 3.2 failed: your code raised JSONDecodeError: ")
    assert lines[0].endswith("(line 4 of your cell)")
    assert "Traceback" not in "\n".join(lines)


def test_an_error_in_the_check_itself_names_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    def check() -> None:
        {}["missing"]  # noqa: B018

    line = check.__code__.co_firstlineno + 1
    _, lines = run(capsys, check)
    assert lines[0] == (
        "✗ Exercise 3.2 failed: your code raised KeyError: 'missing' "
        f"(line {line} of test_checks.py)"
    )


def test_a_check_that_runs_too_long_is_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    result, lines = run(capsys, lambda: time.sleep(30), time_limit=0.2)
    assert time.monotonic() - began < 5  # stopped, not slept
    assert result is False
    assert lines == [
        "✗ Exercise 3.2 failed: your code was still running after 0.2 s and was stopped.",
        "    hint:     does every loop have a stop condition, and every socket a timeout?",
    ]


def test_a_busy_loop_is_stopped_too(capsys: pytest.CaptureFixture[str]) -> None:
    spin = learner_function("def spin():\n    while True:\n        pass\n", "spin")
    result, lines = run(capsys, spin, time_limit=0.2)
    assert result is False and "was stopped" in lines[0]


def test_the_time_limit_leaves_the_alarm_as_it_found_it(capsys: pytest.CaptureFixture[str]) -> None:
    """An alarm armed before the check (pytest-timeout uses one) is restored, not cancelled."""
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        run(capsys, lambda: None, time_limit=5)
        run(capsys, lambda: time.sleep(30), time_limit=0.1)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 50 < left <= 60
        assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL  # ours is back, not reset
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_alarm_is_left_behind(capsys: pytest.CaptureFixture[str]) -> None:
    previous = signal.signal(signal.SIGALRM, signal.SIG_DFL)
    outer = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        run(capsys, lambda: None, time_limit=5)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGALRM, previous)
        if outer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *outer)


def test_a_check_run_from_a_thread_still_gives_a_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(verdict("3.2", lambda: None)))
    thread.start()
    thread.join(5)
    assert [result.passed for result in results] == [True]
    assert capsys.readouterr().out == "✓ Exercise 3.2 passed\n"


def test_check_timed_out_is_reported_even_when_raised_directly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def check() -> None:
        raise CheckTimedOut()

    assert run(capsys, check, time_limit=3)[1][0] == (
        "✗ Exercise 3.2 failed: your code was still running after 3 s and was stopped."
    )


def test_verdict_line_parses_every_form_verdict_prints(capsys: pytest.CaptureFixture[str]) -> None:
    def stub() -> None:
        raise NotImplementedError("Exercise 3.2: echo")

    def wrong() -> None:
        raise CheckFailed("no reply", expected="b'x'", got="nothing", hint="send it back")

    printed = []
    for check in (lambda: None, wrong, stub):
        printed.append(run(capsys, check)[1])
    parsed = [verdict_lines(lines) for lines in printed]
    assert [len(found) for found in parsed] == [1, 1, 1]  # exactly one verdict line per check
    assert [(p[0]["mark"], p[0]["exercise"], p[0]["status"]) for p in parsed] == [
        (PASSED, "3.2", "passed"),
        (FAILED, "3.2", "failed"),
        (NOT_ATTEMPTED, "3.2", "not attempted yet"),
    ]
    assert parsed[0][0]["reason"] is None
    assert parsed[1][0]["reason"] == "no reply"
    assert parsed[2][0]["reason"].startswith("replace `raise NotImplementedError")


@pytest.mark.parametrize(
    "line",
    [
        "Exercise 3.2 passed",  # no mark
        "✓ Exercise 3 passed",  # no sub-number
        "    ✓ Exercise 3.2 passed",  # indented: part of something else
        "✓ Exercise 3.2 passed!",
        "? Exercise 3.2 failed: x",
    ],
)
def test_verdict_line_rejects_look_alikes(line: str) -> None:
    assert VERDICT_LINE.match(line) is None


def test_verdict_line_reads_two_digit_numbers() -> None:
    match = VERDICT_LINE.match("✗ Exercise 12.10 failed: late")
    assert match is not None and match["exercise"] == "12.10" and match["reason"] == "late"


def test_a_verdict_says_what_happened_and_displays_nothing_more_in_a_notebook(capsys):
    from eventloop.checks import Verdict

    passed, failed = verdict("3.2", lambda: None), verdict("3.3", lambda: 1 / 0)
    assert (passed.exercise, passed.status, bool(passed)) == ("3.2", "passed", True)
    assert (failed.exercise, failed.status, bool(failed)) == ("3.3", "failed", False)
    stub = verdict("3.4", lambda: (_ for _ in ()).throw(NotImplementedError("Exercise 3.4")))
    assert stub.status == "not attempted"
    capsys.readouterr()
    assert Verdict._ipython_display_(passed) is None
    assert capsys.readouterr().out == ""


# --- under nbgrader: a check that does not pass raises, so its grade cell scores 0 ----------------


def wrong_answer() -> None:
    raise CheckFailed("no reply", expected="b'x'", got="nothing", hint="send it back")


def stub_answer() -> None:
    raise NotImplementedError("Exercise 3.2: echo")


@pytest.mark.parametrize("execution", ["autograde", "validate"])
def test_under_nbgrader_a_wrong_answer_raises_its_verdict(
    execution: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", execution)  # what nbgrader sets while it runs cells
    with pytest.raises(AssertionError) as raised:
        verdict("3.2", wrong_answer)
    assert str(raised.value) == (
        "✗ Exercise 3.2 failed: no reply\n"
        "    expected: b'x'\n"
        "    got:      nothing\n"
        "    hint:     send it back"
    )
    assert capsys.readouterr().out.startswith("✗ Exercise 3.2 failed: no reply\n")  # still shown


def test_under_nbgrader_a_stub_raises_not_attempted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match=r"^○ Exercise 3.2 not attempted yet: replace"):
        verdict("3.2", stub_answer)


def test_under_nbgrader_the_verdict_is_quoted_without_the_learners_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def chatty() -> None:
        print("debug: my own line")
        wrong_answer()

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError) as raised:
        verdict("3.2", chatty)
    assert str(raised.value).splitlines()[0] == "✗ Exercise 3.2 failed: no reply"


def test_under_nbgrader_a_right_answer_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert verdict("3.2", lambda: None).passed


def test_without_nbgrader_a_wrong_answer_only_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert verdict("3.2", wrong_answer).status == "failed"
    assert verdict("3.2", stub_answer).status == "not attempted"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "✗ Exercise 3.2 failed: no reply" and lines[-1].startswith("○ Exercise 3.2")


def test_under_nbgrader_a_course_check_raises_for_a_wrong_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eventloop.checks.ch06 import check_6_1

    def split_lines(buffer: bytearray) -> list[bytes]:
        return []  # forgets every line

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match=r"^✗ Exercise 6.1 failed: (.|\n)*\n    hint:"):
        check_6_1(split_lines)
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert check_6_1(split_lines).status == "failed"  # in Jupyter: one verdict, no traceback


def test_a_tee_that_outlives_its_output_closes_quietly() -> None:
    from eventloop.checks import Tee

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # as pytest's capture is
    tee = Tee(out)
    tee.write("✓ Exercise 1.1 passed\n")
    out.close()  # pytest closes its capture; the kernel's stdout may go too
    tee.close()  # what garbage collection does later: on 3.13 pytest fails a test if it raises
    assert tee.verdict() == "✓ Exercise 1.1 passed"
