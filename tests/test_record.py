"""eventloop.checks.record: the signed verdicts a grader counts; the cheap tricks they stop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exercise_checks import stub

import eventloop.checks
from eventloop.checks import record, verdict
from eventloop.checks.ch07 import check_7_1

KEY = "ab" * 32


@pytest.fixture
def armed(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "verdicts.jsonl"
    record.arm(str(path), KEY)
    try:
        yield path
    finally:
        record._armed = None


def signed(path: Path) -> list[dict[str, str]]:
    good, forged = record.read_records(path, bytes.fromhex(KEY))
    assert forged == 0
    return good


def test_nothing_is_written_unless_a_grader_armed_the_checks(tmp_path: Path, capsys) -> None:
    assert record._armed is None
    check_7_1(stub)
    assert "not attempted yet" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_course_check_signs_its_verdict(armed: Path, capsys) -> None:
    check_7_1(stub)
    check_7_1(lambda deadlines, now: None)  # wrong: always None
    assert [(e["exercise"], e["status"]) for e in signed(armed)] == [
        ("7.1", "not attempted"),
        ("7.1", "failed"),
    ]
    assert signed(armed)[1]["detail"]  # the reason travels with the verdict


def test_a_check_written_in_the_notebook_is_not_graded(armed: Path, capsys) -> None:
    verdict("7.1", lambda: None)  # what a student's own check_7_1 would do
    assert "✓ Exercise 7.1 passed" in capsys.readouterr().out  # the learner sees this...
    [entry] = signed(armed)
    assert entry["status"] == "failed"  # ...the grader counts this
    assert entry["detail"] == "not graded: this check is not the course's own"


def test_patching_the_checks_is_noticed(armed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop.checks, "outcome_of", lambda *args: ("passed", ""))
    check_7_1(stub)
    [entry] = signed(armed)
    assert entry["status"] == "failed"
    assert "(eventloop.checks.outcome_of)" in entry["detail"]


def test_lines_not_signed_with_the_key_are_not_counted(armed: Path) -> None:
    check_7_1(stub)
    line = json.dumps({"n": 2, "exercise": "7.2", "status": "passed", "detail": ""})
    with armed.open("a", encoding="utf-8") as file:
        file.write(f"{'0' * 64} {line}\n")  # a forged line
        file.write(armed.read_text(encoding="utf-8").splitlines()[0] + "\n")  # a replayed one
    good, forged = record.read_records(armed, bytes.fromhex(KEY))
    assert [e["exercise"] for e in good] == ["7.1"]
    assert forged == 2


def test_the_time_limit_is_not_swallowed_by_except_exception(capsys) -> None:
    def stubborn() -> None:
        while True:  # a learner's loop that "survives" every error
            try:
                time.sleep(0.01)
            except Exception:
                continue

    result = verdict("7.1", stubborn, time_limit=0.3)
    assert result.status == "failed"
    assert "still running after 0.3 s" in capsys.readouterr().out
