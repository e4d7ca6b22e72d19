"""grade: odd files, bounded reads, the CSV checked first, missing notebooks and totals.

No kernel runs here (except where said): these are the grader's own decisions, made
before or after the notebooks run. Issue 24 ("odd files stop grading") and issue 28
("Grader table").
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from eventloop.cli import main as cli_main
from eventloop.grading import files, grade, kernel, report, results, sandbox, worker

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "exercises"


def notebook(*sources: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(source) for source in sources])


def write(path: Path, *sources: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(*sources), path)
    return path


# --- odd files ------------------------------------------------------------------------------------


def odd_class(tmp_path: Path) -> Path:
    """A class whose notebooks are every kind of file that is not one."""
    root = tmp_path / "class"
    write(root / "amy" / "03-select.ipynb", "# Exercise 3.1: a")
    (root / "ben" / "03-select.ipynb").mkdir(parents=True)  # a folder named like a notebook
    (root / "cat").mkdir()
    os.mkfifo(root / "cat" / "03-select.ipynb")  # reading it would hang
    (root / "dan").mkdir()
    (root / "dan" / "03-select.ipynb").symlink_to(root / "nowhere.ipynb")  # dangling
    (root / "eve").mkdir()
    (root / "eve" / "03-select.ipynb").symlink_to("/dev/zero")  # reading it never ends
    (root / "fay").mkdir()
    (root / "fay" / "03-select.ipynb").symlink_to("/etc/passwd")  # the teacher's file
    (root / "gus").mkdir()
    (root / "gus" / "03-select.ipynb").write_bytes(b" " * (files.NOTEBOOK_LIMIT + 1))
    return root


def test_odd_files_are_listed_as_not_graded_instead_of_stopping_grading(tmp_path: Path) -> None:
    found = {item.student: item.refused for item in grade.find_notebooks([odd_class(tmp_path)])}
    assert found == {
        "amy": "",
        "ben": "a folder, not a notebook",
        "cat": "not a regular file (a FIFO or a device)",
        "dan": "a link to nothing",
        "eve": "a link out of the submission",
        "fay": "a link out of the submission",
        "gus": "larger than 20 MB",
    }


def test_what_could_not_be_graded_is_listed_under_the_table(tmp_path: Path) -> None:
    submissions = grade.find_notebooks([odd_class(tmp_path)])
    options = grade.Options()
    rows = [grade.refused_result(item, options) for item in submissions if item.refused]
    listed = report.not_graded(rows)
    assert listed.splitlines()[:3] == [
        "",
        "could not grade:",
        "  ben/03-select.ipynb: not graded: a folder, not a notebook",
    ]
    assert len(listed.splitlines()) == 2 + 6


def test_read_bounded_reads_regular_files_only_and_at_most_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 100)
    assert files.read_bounded(tmp_path / "big", 10) == (b"x" * 10, False)
    assert files.read_bounded(tmp_path / "big", 100) == (b"x" * 100, True)
    assert files.read_bounded(tmp_path / "absent", 10) == (None, True)
    (tmp_path / "zero").symlink_to("/dev/zero")
    assert files.read_bounded(tmp_path / "zero", 10) == (None, False)
    os.mkfifo(tmp_path / "fifo")
    assert files.read_bounded(tmp_path / "fifo", 10) == (None, False)  # and it did not hang


def test_a_verdict_file_replaced_by_a_link_or_grown_huge_is_cut(tmp_path: Path) -> None:
    run = kernel.Run(notebook())
    (tmp_path / "verdicts.jsonl").symlink_to("/dev/zero")
    assert kernel.read_verdicts(tmp_path / "verdicts.jsonl", b"k", run) == ([], 0)
    assert run.cut == [
        f"verdict file over {kernel.VERDICTS_LIMIT:,} bytes or not a plain file: cut"
    ]
    (tmp_path / "huge.jsonl").write_bytes(b"x" * (kernel.VERDICTS_LIMIT + 10))
    records, forged = kernel.read_verdicts(tmp_path / "huge.jsonl", b"k", kernel.Run(notebook()))
    assert records == [] and forged == 1


def test_the_private_copy_has_regular_files_only(tmp_path: Path) -> None:
    source = tmp_path / "amy"
    write(source / "03-select.ipynb", "x = 1")
    (source / "helper.py").write_text("y = 2")
    (source / "data").mkdir()
    (source / "data" / "input.txt").write_text("z")
    (source / "key").symlink_to("/etc/passwd")
    (source / "up").symlink_to(tmp_path)
    os.mkfifo(source / "pipe")
    with socket.socket(socket.AF_UNIX) as unix:
        unix.bind(str(source / "socket"))
        assert files.private_copy(source, tmp_path / "copy") == []
    copy = tmp_path / "copy"
    copied = sorted(path.relative_to(copy).as_posix() for path in copy.rglob("*"))
    assert copied == ["03-select.ipynb", "data", "data/input.txt", "helper.py"]
    assert not any(p.is_symlink() for p in (tmp_path / "copy").rglob("*"))


# --- the table and the CSV ------------------------------------------------------------------------


def result(
    student: str, name: str, *statuses: str, notes: list[str] | None = None
) -> results.NotebookResult:
    exercises = {f"3.{n}": results.ExerciseResult(s) for n, s in enumerate(statuses, start=1)}
    return results.NotebookResult(student, Path(student) / name, exercises, notes or [])


def test_control_characters_in_names_are_escaped_in_every_cell(tmp_path: Path) -> None:
    evil = "amy\nzed      passed  1/1\x1b[2J"
    graded = [
        result(evil, "03.ipynb", "passed", notes=["line\none"]),
        result("bob", "03.ipynb", "failed"),
    ]
    table = report.format_table(graded)
    assert len(table.splitlines()) == 5  # title, header, rule, two rows: no fake row
    assert "\x1b" not in table and "amy\\nzed" in table and "\\x1b[2J" in table
    report.write_csv(graded, tmp_path / "g.csv")
    with (tmp_path / "g.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[1][0] == "amy\\nzed      passed  1/1\\x1b[2J" and rows[1][-1] == "line\\none"


def test_a_folder_name_that_is_not_utf8_does_not_lose_the_csv(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9")  # a Latin-1 name read on a UTF-8 system
    report.write_csv([result(name, "03.ipynb", "passed")], tmp_path / "g.csv")
    assert "caf\\udce9,03.ipynb,passed" in (tmp_path / "g.csv").read_text(encoding="utf-8")
    assert "caf\\udce9" in report.format_table([result(name, "03.ipynb", "passed")])


def test_a_student_without_a_notebook_gets_a_missing_row_and_every_student_a_total(
    tmp_path: Path,
) -> None:
    graded = [
        result("amy", "03.ipynb", "passed", "passed"),
        result("amy", "04.ipynb", "failed"),
        result("bob", "03.ipynb", "passed", "failed"),
    ]
    graded += report.missing_results(graded)
    assert [(r.student, r.name, r.total, r.notes) for r in graded[3:]] == [
        ("bob", "04.ipynb", "0/1", ["missing"])
    ]
    table = report.format_table(graded)
    assert "bob      missing  0/1    missing" in table
    assert table.split("all notebooks\n")[1].splitlines() == [
        "student  03.ipynb  04.ipynb  total",
        "-------  --------  --------  -----",
        "amy      2/2       0/1       2/3",
        "bob      1/2       missing   1/3",
    ]
    report.write_csv(graded, tmp_path / "g.csv")
    rows = (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()
    assert rows[-2:] == ["amy,all notebooks,,,2,3,", "bob,all notebooks,,,1,3,"]
    assert "bob,04.ipynb,missing,,0,1,missing" in rows


def test_missing_counts_only_notebooks_with_worked_answers(tmp_path: Path) -> None:
    write(tmp_path / "solutions" / "03.ipynb", "# Exercise 3.1: a")
    graded = [result("amy", "03.ipynb", "passed"), result("amy", "scratch.ipynb")]
    graded.append(result("bob", "03.ipynb", "failed"))
    missing = report.missing_results(graded, tmp_path / "solutions")
    assert missing == []  # bob's missing scratch.ipynb is not a missing notebook


def test_copies_of_the_hand_out_are_not_noted_as_copies(tmp_path: Path) -> None:
    handout = write(tmp_path / "exercises" / "03-select.ipynb", "# Exercise 3.1: a")
    for student in ("amy", "ben", "cat"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "03-select.ipynb").write_bytes(handout.read_bytes())
    mine = write(tmp_path / "class" / "dan" / "03-select.ipynb", "# Exercise 3.1: a\nmine = 1")
    (tmp_path / "class" / "eve").mkdir()
    (tmp_path / "class" / "eve" / "03-select.ipynb").write_bytes(mine.read_bytes())
    found = grade.find_notebooks([tmp_path / "class"], handout=tmp_path / "exercises")
    notes = {item.student: item.notes for item in found}
    assert notes == {
        "amy": [],
        "ben": [],
        "cat": [],
        "dan": ["same file as eve/03-select.ipynb"],
        "eve": ["same file as dan/03-select.ipynb"],
    }


# --- the command: what it refuses before grading --------------------------------------------------


def grade_args(tmp_path: Path, *extra: str) -> list[str]:
    write(tmp_path / "class" / "amy" / "98-demo.ipynb", "# Exercise 98.1: a")
    return ["grade", str(tmp_path / "class"), *extra]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("/dev/full", "cannot write /dev/full: No space left on device"),
        ("{tmp}/no/such/folder/g.csv", "No such file or directory"),
        ("{tmp}", "Is a directory"),
    ],
    ids=["dev-full", "missing-folder", "a-folder"],
)
def test_a_csv_that_cannot_be_written_stops_grading_before_it_starts(
    tmp_path: Path, where: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli_main(grade_args(tmp_path, "--csv", where.format(tmp=tmp_path)))
    out, err = capsys.readouterr()
    assert status == 2
    assert message in err and "Traceback" not in err
    assert "graded" not in out + err  # nothing was graded


def test_unreadable_worked_answers_stop_grading_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "solutions" / "98-demo.ipynb").mkdir(parents=True)  # cannot be read as a file
    status = cli_main(grade_args(tmp_path, "--solutions", str(tmp_path / "solutions")))
    out, err = capsys.readouterr()
    assert status == 2
    assert "error: cannot read the worked answers" in err
    assert "--solutions FOLDER" in err and "Nothing was graded" in err
    assert "0/0" not in out


def test_a_solutions_folder_the_grader_may_not_list_stops_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "solutions").mkdir()
    real_scandir = os.scandir

    def locked(path):  # type: ignore[no-untyped-def]
        if Path(path) == tmp_path / "solutions":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", locked)  # chmod 700 does not stop root, who runs tests
    status = cli_main(grade_args(tmp_path, "--solutions", str(tmp_path / "solutions")))
    assert status == 2
    assert "PermissionError: Permission denied" in capsys.readouterr().err


def test_an_unknown_user_stops_grading_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli_main(grade_args(tmp_path, "--user", "no-such-user-of-eventloop"))
    assert status == 2
    assert "error: --user no-such-user-of-eventloop: no such user" in capsys.readouterr().err


def test_a_long_temporary_folder_name_leaves_room_for_the_kernels_sockets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel.tempfile, "tempdir", "/tmp/" + "deep/" * 20)
    assert kernel.socket_folder() == "/tmp"  # a Unix socket's path has at most 104-108 bytes
    monkeypatch.setattr(kernel.tempfile, "tempdir", "/tmp")
    assert kernel.socket_folder() is None


def test_the_csv_has_each_notebook_as_soon_as_it_is_graded_then_the_whole_class(
    tmp_path: Path,
) -> None:
    path = tmp_path / "g.csv"
    writer = report.CsvWriter(path, ["3.1", "3.2"])
    assert path.read_text(encoding="utf-8") == "student,notebook,3.1,3.2,passed,total,notes\n"
    writer.add(result("zoe", "03.ipynb", "passed", "failed"))
    assert path.read_text(encoding="utf-8").splitlines()[1] == "zoe,03.ipynb,passed,failed,1,2,"
    graded = [*writer.results, result("amy", "03.ipynb", "passed", "passed")]
    writer.finish(graded)
    assert path.read_text(encoding="utf-8").splitlines()[1:] == [
        "amy,03.ipynb,passed,passed,2,2,",
        "zoe,03.ipynb,passed,failed,1,2,",
        "amy,all notebooks,,,2,2,",
        "zoe,all notebooks,,,1,2,",
    ]


def test_a_closed_stdout_loses_neither_the_csv_nor_the_exit_status(tmp_path: Path) -> None:
    """Only odd files here: nothing runs, the CSV is written, then the table meets a closed pipe."""
    root = odd_class(tmp_path)
    (root / "amy" / "03-select.ipynb").unlink()
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads the table
    done = subprocess.run(
        [sys.executable, "-m", "eventloop", "grade", str(root), "--csv", str(tmp_path / "g.csv")],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    os.close(writer)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    rows = (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 6 + 6  # the header, six notebooks not graded, six totals


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_cancel_grading_so_that_every_finally_runs(signum: int) -> None:
    """The grader and each worker await their work through ``cancelled_by_sigterm``."""
    cleaned = []

    async def grading() -> None:
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signum)
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append(True)  # where a worker stops its kernel and removes its files

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(worker.cancelled_by_sigterm(grading()))
    assert cleaned == [True]


def test_what_a_killed_worker_left_is_removed_by_the_grader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed before it removed its kernel's folder and cgroup: found by its pid."""
    monkeypatch.setattr(kernel.tempfile, "tempdir", str(tmp_path))
    pid = os.getpid()  # stands for the dead worker's
    (tmp_path / f"eventloop-grade-{pid}-abc" / ".grader").mkdir(parents=True)
    (tmp_path / f"eventloop-grade-{pid}-abc" / "link").symlink_to(ROOT)  # not followed
    (tmp_path / f"eventloop-grade-{pid + 1}-abc").mkdir()  # another worker's: kept
    cgroup = sandbox.make_cgroup(10)
    sleeper = None
    if cgroup is not None:
        procs = cgroup / "cgroup.procs"
        sleeper = subprocess.Popen(["/bin/sh", "-c", f"echo $$ > {procs} && exec sleep 60"])
        while not procs.read_text().split():
            time.sleep(0.01)  # until it has joined
    kernel.clean_up_after(pid)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"eventloop-grade-{pid + 1}-abc"]
    assert ROOT.exists()
    if sleeper is not None:
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        assert cgroup is not None and not cgroup.exists()
