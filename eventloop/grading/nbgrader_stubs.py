"""nbgrader's ``generate_assignment`` writing the course's own exercise stubs.

nbgrader replaces every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region
with one stub for the whole course, ``raise NotImplementedError()``. The
course's stubs name their exercise,
``raise NotImplementedError("Exercise 3.2: <the task>")``, so that an error in a
learner's notebook says which exercise it belongs to and ``python -m eventloop
grade`` can tell "not attempted" from a crash. ``ExerciseStubs`` is nbgrader's
``ClearSolutions`` writing that stub, read from the cell's
``# Exercise N.M: <task>`` header; with it, the release nbgrader generates from
``solutions/`` has the same code cells as ``exercises/`` (a test compares them).

Use it from the course directory's ``nbgrader_config.py``::

    from eventloop.grading.nbgrader_stubs import configure

    c = get_config()  # noqa: F821  (nbgrader provides it)
    configure(c)

Without it nbgrader still works: the stubs are nbgrader's own, and the checks
still say "not attempted" for them. Needs nbgrader (``pip install -e '.[teach]'``).
"""

from __future__ import annotations

import re
from typing import Any

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

EXERCISE_HEADER = re.compile(r"^#\s*Exercise\s+(?P<id>\d+\.\d+)\s*:\s*(?P<task>\S.*?)\s*$")
"""The first line of an exercise cell, as ``tools/make_exercises.py`` reads it."""


def stub_for(source: str) -> str | None:
    """``# YOUR CODE HERE`` and the exercise's ``raise``, or None for a cell without a header."""
    header = EXERCISE_HEADER.match(source.lstrip("\n").split("\n", 1)[0])
    if header is None:
        return None
    message = f"Exercise {header['id']}: {header['task']}"
    quoted = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"# YOUR CODE HERE\nraise NotImplementedError({quoted})"


class ExerciseStubs(ClearSolutions):
    """``ClearSolutions`` whose Python stub names the exercise of the cell it replaces."""

    def preprocess_cell(self, cell: Any, resources: Any, cell_index: int) -> tuple[Any, Any]:
        stub = stub_for(cell.source) if cell.cell_type == "code" else None
        language = resources["language"]
        if stub is None or language != "python":
            return super().preprocess_cell(cell, resources, cell_index)
        default = self.code_stub
        self.code_stub = {**default, language: stub}
        try:
            return super().preprocess_cell(cell, resources, cell_index)
        finally:
            self.code_stub = default


def configure(c: Any) -> None:
    """Make ``generate_assignment`` use ``ExerciseStubs``: call it in ``nbgrader_config.py``."""
    default = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = [
        ExerciseStubs if step is ClearSolutions else step for step in default
    ]
