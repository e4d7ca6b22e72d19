"""The alt text of the notebooks' figures: list the figures that lack it, or set it.

Usage:  python tools/figure_alt.py                     list every figure and its alt text;
                                                       exit 1 if one has none
        python tools/figure_alt.py PATH CELL_ID TEXT   set the alt text of that cell's figure
                                                       (repeat TEXT, one per figure, if several)

A figure is a PNG output of a code cell. Its alt text, what a reader who cannot see it is told,
lives in the cell's metadata as ``"alt"``: a string, or a list with one string per figure in
output order. The book site (book/_ext/course_book.py) puts it on the ``<img>``. Say what the
figure shows, not the numbers of one run: the figure changes a little every time it is re-run.

The notebook is written back byte for byte as it was read, but for that one metadata key
(JSON with the project's 1-space indent), so the edit never touches a cell's source or outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "exercises")


def figures(notebook: dict) -> list[tuple[dict, int]]:
    """(cell, number of PNG outputs) for every code cell that shows a figure."""
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        pngs = sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
        if pngs:
            found.append((cell, pngs))
    return found


def alt_texts(cell: dict) -> list[str]:
    """The alt texts of a cell's figures, as its metadata gives them."""
    alt = cell["metadata"].get("alt", [])
    return [alt] if isinstance(alt, str) else list(alt)


def missing(path: Path) -> list[str]:
    """One line per figure of ``path`` whose alt text is missing or empty."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for cell, count in figures(notebook):
        texts = [t for t in alt_texts(cell) if t.strip()]
        if len(texts) != count:
            problems.append(
                f"{path.relative_to(ROOT)} cell {cell.get('id')}: {count} figure(s), "
                f"{len(texts)} alt text(s)"
            )
    return problems


def set_alt(path: Path, cell_id: str, texts: list[str]) -> None:
    """Set the ``"alt"`` metadata of the cell ``cell_id`` in the notebook at ``path``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = next((c for c in notebook["cells"] if c.get("id") == cell_id), None)
    if cell is None:
        raise SystemExit(f"{path}: no cell with id {cell_id}")
    cell["metadata"]["alt"] = texts[0] if len(texts) == 1 else texts
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv:
        path, cell_id, *texts = argv
        set_alt(Path(path), cell_id, texts)
        return 0
    problems = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).glob("[0-9][0-9]-*.ipynb")):
            problems += missing(path)
    print("\n".join(problems) or "every figure has alt text")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
