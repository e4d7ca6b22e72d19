"""Student-controlled text in the grade table and CSV (eventloop/student_text.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from eventloop.cli import build_parser
from eventloop.grading.report import format_table, write_csv
from eventloop.grading.results import FAILED, PASSED, ExerciseResult, NotebookResult
from eventloop.student_text import for_spreadsheet, for_terminal


@pytest.mark.parametrize(
    "text, shown",
    [
        ("\x1b[2Jall passed", "\\x1b[2Jall passed"),  # clear screen
        ("ok\rfailed", "ok\\rfailed"),  # carriage return overwrites the line
        ("bell\x07", "bell\\x07"),
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("\x9b31m", "\\x9b31m"),  # the one-byte C1 CSI
    ],
)
def test_control_characters_are_shown_not_obeyed(text, shown):
    assert for_terminal(text) == shown


def test_ordinary_text_is_left_alone():
    text = "Zoë Ångström\tfailed: expected b'x'\n"
    assert for_terminal(text) == text


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_starts_become_text(cell):
    assert for_spreadsheet(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["alice", "zoe-2", 3, 0])
def test_names_and_numbers_pass(cell):
    assert for_spreadsheet(cell) == cell


def hostile_result() -> NotebookResult:
    result = NotebookResult('=HYPERLINK("http://evil","x")', Path("03-select.ipynb"))
    result.exercises["3.1"] = ExerciseResult(PASSED)
    result.exercises["3.2"] = ExerciseResult(FAILED, "\x1b[2J\x1b[32mall passed")
    return result


def test_the_table_a_teacher_reads_has_no_escape_sequences():
    table = format_table([hostile_result()])
    assert "\x1b" not in table
    assert "\\x1b[2J" in table


def test_the_csv_a_teacher_opens_has_no_formulas(tmp_path):
    path = tmp_path / "grades.csv"
    write_csv([hostile_result()], path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[1][0].startswith("'=HYPERLINK")
    assert rows[1][rows[0].index("passed")] == "1"  # numbers stay numbers


def test_grade_help_says_what_is_contained_here_and_when_code_runs_with_your_rights():
    grade = build_parser()._subparsers._group_actions[0].choices["grade"]  # type: ignore[union-attr]
    text = grade.format_help()
    assert "RUNS WITH YOUR RIGHTS" in text and "container" in text
    machine = text.split("\non this machine:\n")[1]  # eventloop.grading.sandbox's own words
    assert "limits per process" in machine and "not limited" in machine
