"""The learner's hand-out (``make handout``): what a learner runs, and no worked answers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_handout", ROOT / "tools" / "make_handout.py")
make_handout = importlib.util.module_from_spec(spec)
sys.modules["make_handout"] = make_handout
spec.loader.exec_module(make_handout)


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "handout"
    assert make_handout.main(["--out", str(out)]) == 0
    return out


def test_the_handout_has_no_solutions(handout: Path) -> None:
    assert not (handout / "solutions").exists()
    for path in handout.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            lines = text.replace("\\n", "\n").replace('"', "\n").splitlines()
            opening = [line for line in lines if line.strip().startswith(("### BEGIN SOLUTION",
                                                                           "<!-- BEGIN SOLUTION"))]
            assert not opening, f"{path} opens a solution region"
    for path in handout.glob("exercises/*.ipynb"):
        assert "BEGIN SOLUTION" not in path.read_text(), path


def test_the_handout_is_what_a_learner_runs(handout: Path) -> None:
    for folder in ("notebooks", "exercises"):
        names = sorted(p.name for p in (ROOT / folder).glob("*.ipynb"))
        assert names and sorted(p.name for p in (handout / folder).glob("*.ipynb")) == names
        for name in names:
            assert (handout / folder / name).read_bytes() == (ROOT / folder / name).read_bytes()
    assert (handout / "eventloop" / "checks" / "ch03.py").is_file()
    assert (handout / "pyproject.toml").is_file() and (handout / "PITFALLS.md").is_file()
    for absent in ("tests", "tools", "benchmarks", "TEACHING.md", ".ci"):
        assert not (handout / absent).exists(), absent
    assert not list(handout.rglob("__pycache__"))


def test_a_solution_that_would_leak_stops_the_handout(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "03-select.ipynb").write_text(
        '{"cells": [{"source": ["def f():\\n", "    ### BEGIN SOLUTION\\n", "    return 1\\n"]}]}'
    )
    with pytest.raises(make_handout.LeakError, match="03-select.ipynb"):
        make_handout.check_no_solutions(tmp_path)
    (tmp_path / "exercises" / "03-select.ipynb").unlink()
    make_handout.check_no_solutions(tmp_path)  # nothing left: no complaint
    (tmp_path / "solutions").mkdir()
    with pytest.raises(make_handout.LeakError, match="solutions"):
        make_handout.check_no_solutions(tmp_path)


def test_the_package_names_the_marker_only_inside_a_line() -> None:
    """The grader's docstring mentions the marker; no line of the package starts with it."""
    make_handout.check_no_solutions(ROOT / "eventloop")
