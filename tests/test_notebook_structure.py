"""Every lesson asks the learner to act, and says how long it takes and what to skip.

Issue 12: a learner who only watches a finished package work learns little. Each chapter from 01
on asks, at least twice, "**Predict:** what will the next cell print?" before it runs, and at
least once "**Try it:**" (change something and re-run). Its first cell says how long the chapter
takes ("about N minutes") and marks a **core path** so a learner in a hurry knows what to skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(
    path
    for path in (ROOT / "notebooks").glob("*.ipynb")
    if re.match(r"(0[1-9]|1[0-2])-", path.name)
)
START_HERE = ROOT / "notebooks" / "00-start-here.ipynb"


def markdown_cells(path: Path) -> list[str]:
    """The markdown cells of a notebook, in order."""
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def prompts(path: Path, word: str) -> list[int]:
    """Positions of the markdown cells with a paragraph that starts ``**word:**``, in order.

    A prompt is a paragraph of its own (usually the whole cell, sometimes the last paragraph
    of the prose before the cell it is about); a mention inside a sentence does not count.
    """
    notebook = nbformat.read(path, as_version=4)
    starts = re.compile(rf"(?:\A|\n\s*\n)\s*\*\*{re.escape(word)}:\*\*")
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown" and starts.search(cell.source)
    ]


def test_the_lessons_are_found():
    assert len(LESSONS) >= 9, [path.name for path in LESSONS]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_lesson_asks_the_learner_to_predict_twice_then_shows_the_answer(path):
    notebook = nbformat.read(path, as_version=4)
    found = prompts(path, "Predict")
    assert len(found) >= 2, f"{len(found)} **Predict:** prompts; a chapter needs at least 2"
    for index in found:
        later = notebook.cells[index + 1 :]
        assert any(cell.cell_type == "code" for cell in later), (
            f"cell {index}'s prediction is never revealed: no code cell follows it"
        )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_lesson_asks_the_learner_to_try_something(path):
    assert prompts(path, "Try it"), "no **Try it:** prompt (change something and re-run)"


@pytest.mark.parametrize("path", [*LESSONS, START_HERE], ids=lambda p: p.name)
def test_the_first_cell_says_how_long_and_marks_the_core_path(path):
    first = markdown_cells(path)[0]
    minutes = re.search(r"about (\d+) minutes", first)
    assert minutes, 'the first cell says "about N minutes"'
    assert 5 <= int(minutes.group(1)) <= 240, minutes.group(0)
    assert "**Core path" in first, "the first cell marks a **Core path** (<= 45 minutes)"
    core = re.search(r"\*\*Core path\b[^*]*?(\d+) minutes", first)
    assert core and int(core.group(1)) <= 45, "the core path says its minutes, at most 45"


def test_a_prompt_is_not_counted_when_it_is_only_mentioned(tmp_path):
    """`prompts` counts paragraphs that *start* with the prompt, not prose that quotes it."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Each chapter has **Predict:** prompts."),
        nbformat.v4.new_markdown_cell("**Predict:** how many?"),
        nbformat.v4.new_code_cell("print(3)"),
        nbformat.v4.new_markdown_cell("Some prose.\n\n**Predict:** and now?"),
        nbformat.v4.new_code_cell("print(4)"),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    assert prompts(path, "Predict") == [1, 3]
