"""The learner's path through a chapter: its core cells, its time, its Predicts and Try-its.

Usage:  python tools/learner_path.py           every chapter's estimates (TEACHING.md's table)
        python tools/learner_path.py --write   also set the times each chapter's first cell states

One module, used by the tests (tests/test_learner_path.py), by TEACHING.md's table and by
each chapter's first cell, so that they all count the same way:

- **Optional** cells carry the cell tag ``optional``; the **core path** is every other cell.
- **Time** (TEACHING.md): reading at ``WORDS_PER_MINUTE`` words a minute (the words of the
  markdown cells, split on white space), plus ``MINUTES_PER_STEP`` for each code cell and
  each prompt (a paragraph that starts ``**Predict`` or ``**Try it``): run it, read what it
  prints, look at the picture. Exercises: ``MINUTES_PER_EXERCISE`` each.
- A **Predict** is a markdown paragraph that starts ``**Predict:**``; a **Try it** one that
  starts ``**Try it:**``, with its executable form in the cell's metadata (``tryit``, see
  CONTRIBUTING.md).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = "optional"
WORDS_PER_MINUTE = 150
MINUTES_PER_STEP = 1.5
MINUTES_PER_EXERCISE = 12
CORE_LIMIT = 45

PROMPT = re.compile(r"(?:\A|\n\s*\n)\s*\*\*(Predict|Try it):\*\*")
EXERCISE = re.compile(r"^# Exercise (\d+)\.(\d+):", re.MULTILINE)


def is_optional(cell: nbformat.NotebookNode) -> bool:
    """Whether the cell is off the core path (tagged ``optional``)."""
    return OPTIONAL in cell.get("metadata", {}).get("tags", [])


def core(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` without its optional cells: the core path, as a learner runs it."""
    copy = nbformat.from_dict(notebook)
    copy.cells = [cell for cell in copy.cells if not is_optional(cell)]
    return copy


def prompts(cell: nbformat.NotebookNode) -> list[str]:
    """The kinds of the prompts a markdown cell holds (``Predict``, ``Try it``), in order."""
    if cell.cell_type != "markdown":
        return []
    return [match.group(1) for match in PROMPT.finditer(cell.source)]


def minutes(cells: Iterable[nbformat.NotebookNode]) -> float:
    """Reading and running time of ``cells``, by the rule TEACHING.md states."""
    words = steps = 0
    for cell in cells:
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
            steps += len(prompts(cell))
        elif cell.cell_type == "code":
            steps += 1
    return words / WORDS_PER_MINUTE + steps * MINUTES_PER_STEP


def exercises(path: Path) -> int:
    """How many exercises a chapter's solutions notebook holds (0 when it has none)."""
    if not path.exists():
        return 0
    notebook = nbformat.read(path, as_version=4)
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    found = {match.groups() for source in sources for match in EXERCISE.finditer(source)}
    return len(found)


def rounded(value: float) -> int:
    """Minutes as TEACHING.md and the chapters state them: to the nearest 5 (halves up)."""
    return int(5 * math.floor(value / 5 + 0.5))


@dataclass(frozen=True)
class Estimate:
    """One chapter's estimate, in minutes (to the nearest 5)."""

    chapter: str
    everything: int
    core: int
    exercises: int

    @property
    def exercise_minutes(self) -> int:
        return rounded(self.exercises * MINUTES_PER_EXERCISE)

    @property
    def together(self) -> int:
        return self.everything + self.exercise_minutes


def estimate(path: Path) -> Estimate:
    """The estimate of the chapter notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    return Estimate(
        chapter=path.name[:2],
        everything=rounded(minutes(notebook.cells)),
        core=rounded(minutes(core(notebook).cells)),
        exercises=exercises(ROOT / "solutions" / path.name),
    )


def chapters() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def state_times(path: Path) -> bool:
    """Set "about N minutes" and "**Core path (about N minutes)" in the chapter's first cell to
    what the rule gives; whether the notebook changed (it is written with nbformat)."""
    e = estimate(path)
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    stated = re.sub(r"about \d+ minutes", f"about {e.everything} minutes", first.source, count=1)
    stated = re.sub(
        r"\*\*Core path \(about \d+ minutes\)", f"**Core path (about {e.core} minutes)", stated
    )
    if stated == first.source:
        return False
    first.source = stated
    nbformat.write(notebook, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="set the times in each chapter's first cell"
    )
    args = parser.parse_args(argv)
    if args.write:
        for path in chapters():
            if state_times(path):
                print(f"wrote the times of {path.name}")
    print("chapter  everything  core (exact)  exercises")
    for path in chapters():
        e = estimate(path)
        exact = minutes(core(nbformat.read(path, as_version=4)).cells)
        print(
            f"{e.chapter:7}  {e.everything:10}  {e.core:4} ({exact:4.1f})"
            f"  {e.exercises} ({e.exercise_minutes} min)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
