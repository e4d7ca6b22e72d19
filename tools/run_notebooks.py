"""Execute notebooks in place and strip the noise, so that nbval can compare them.

Usage:  python tools/run_notebooks.py notebooks/03-select.ipynb [more.ipynb ...]
        python tools/run_notebooks.py --clean-only PATH...   (strip noise, do not execute)

Each notebook runs top to bottom in a fresh kernel of this environment, from its
own folder, exactly as `pytest --nbval` will run it. A cell that raises stops the
run, unless it is tagged `raises-exception` (a cell that *shows* an error on
purpose). Then the noise is removed: execution counts, per-cell timing metadata,
widget state, and the Python patch version. Outputs stay: nbval compares them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a fresh kernel.

    The kernel draws each explorer's still too (``EVENTLOOP_EXPLORER_STILL``, see
    eventloop/explorer.py): the saved notebook shows it where there is no kernel.
    """
    os.environ["EVENTLOOP_EXPLORER_STILL"] = "1"  # the kernel inherits this process's variables
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def strip_noise(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove what changes from run to run but is not the notebook's content."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata.get("language_info", {}).pop("version", None)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    count = 0
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type != "code":
            continue
        # Numbered 1, 2, 3... as a fresh top-to-bottom run numbers them: stable, and nbval
        # skips (and fails, "Unrun reference cell has outputs") a cell whose count is None.
        count += 1
        cell.execution_count = count
        for output in cell.outputs:
            if "execution_count" in output:
                output.execution_count = count
            # A widget's view points at kernel state that is not saved; keep its text form.
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--clean-only", action="store_true", help="strip noise, do not execute")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    args = parser.parse_args(argv)
    for path in args.paths:
        print(f"{'cleaning' if args.clean_only else 'running'} {path}", flush=True)
        if args.clean_only:
            notebook = nbformat.read(path, as_version=4)
        else:
            notebook = execute(path, args.timeout)
        nbformat.write(strip_noise(notebook), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
