"""Chapters 00–04 must run on Windows, or say why a cell does nothing there.

No notebook runs on Windows in CI, so this reads them: a code cell that uses
something Linux and macOS have and Windows lacks must also carry its guard (a
platform test, a ``hasattr``, or an ``except`` for the error Windows raises).
Chapter 00 tells Windows users to use WSL or Binder for chapters 05 on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-4]-*.ipynb"))

UNIX_ONLY = re.compile(
    r"\bimport resource\b|\bresource\.|\bfcntl\b|127\.0\.0\.2|signal\.SIG(INT|ALRM|HUP|TERM)"
    r"|signal\.alarm|os\.fork|select\.epoll|select\.poll\(|/proc/"
)
"""Modules, calls and addresses that Windows does not have."""

GUARD = re.compile(
    r"sys\.platform|os\.name|platform\.system|hasattr\(|except ImportError|except OSError"
    r"|except (\(.*)?(AttributeError|ValueError|FileNotFoundError)"
)
"""Ways a cell can notice it is not on Linux or macOS and carry on."""


def unguarded_cells(notebook: Path) -> list[str]:
    """``"cell N: what"`` for each code cell that uses UNIX_ONLY without any GUARD."""
    cells = json.loads(notebook.read_text())["cells"]
    found = []
    for number, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "raises-exception" in cell["metadata"].get("tags", []):
            continue
        uses = sorted({match.group(0) for match in UNIX_ONLY.finditer(source)})
        if uses and not GUARD.search(source):
            found.append(f"cell {number}: {', '.join(uses)}")
    return found


@pytest.mark.parametrize("notebook", FIRST_CHAPTERS, ids=lambda path: path.name)
def test_unix_only_cells_in_chapters_00_to_04_are_guarded(notebook: Path) -> None:
    assert unguarded_cells(notebook) == []


def test_the_rule_finds_an_unguarded_cell_and_accepts_a_guarded_one(tmp_path: Path) -> None:
    def notebook_of(*sources: str) -> Path:
        cells = [{"cell_type": "code", "metadata": {}, "source": source} for source in sources]
        path = tmp_path / "nb.ipynb"
        path.write_text(json.dumps({"cells": cells}))
        return path

    assert unguarded_cells(notebook_of("import resource\nresource.getrlimit(1)")) == [
        "cell 0: import resource, resource."
    ]
    guarded = "try:\n    import resource\nexcept ImportError:\n    resource = None"
    assert unguarded_cells(notebook_of(guarded, "print(1)")) == []
    assert unguarded_cells(notebook_of("x = 1", "ask(('127.0.0.2', 9))")) == [
        "cell 1: 127.0.0.2"
    ]


def test_chapter_00_sends_windows_users_to_wsl_or_binder() -> None:
    text = (ROOT / "notebooks" / "00-start-here.ipynb").read_text()
    assert "Windows" in text and "WSL" in text and "Binder" in text
