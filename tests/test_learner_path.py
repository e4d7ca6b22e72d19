"""The learner's path (issue 27): a core path that runs alone, prompts that ask before they
tell, every Try-it tested, and times computed by one rule.

- Every chapter runs top to bottom with its ``optional`` cells removed, as a learner who skips
  the deep dives runs it; its core path takes at most 45 minutes by TEACHING.md's rule.
- Each **Try it** carries its edit and what the learner should then see in its metadata
  (CONTRIBUTING.md). The core-path run tries each one right after the last cell it reads, as a
  learner would: edit, re-run, look for the pattern, put it back, re-run. (A Try-it off the core
  path would run in a kernel of its own; today there is none.)
- Each **Predict** is answered by the code cell right after it, never by the prose around it.

One kernel per chapter (the notebooks run in full under nbval besides), in one test class per
chapter, so that ``pytest -n 3 --dist loadscope`` spreads the chapters over the workers.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("learner_path", ROOT / "tools" / "learner_path.py")
assert spec is not None and spec.loader is not None
learner_path = importlib.util.module_from_spec(spec)
sys.modules["learner_path"] = learner_path
spec.loader.exec_module(learner_path)

CHAPTERS = learner_path.chapters()
CELL_TIMEOUT = 120
HEADING = re.compile(r"^#{1,3} ", re.MULTILINE)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def execute(notebook: nbformat.NotebookNode, folder: Path, allow_errors: bool = False) -> None:
    """Run ``notebook`` (a copy: the file is never written) in a fresh kernel, from ``folder``."""
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()


def printed(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell shows as text: streams, results, and an error's name and value.

    A stream may arrive in several outputs (the kernel flushes when it likes): they are joined
    as they were printed, so that a pattern across two lines does not depend on the flushes.
    """
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    return "".join(parts)


def by_id(notebook: nbformat.NotebookNode) -> dict[str, int]:
    return {cell.id: index for index, cell in enumerate(notebook.cells)}


def section(notebook: nbformat.NotebookNode, index: int) -> str:
    """The last ``#``/``##``/``###`` heading at or before cell ``index`` (its section)."""
    for cell in reversed(notebook.cells[: index + 1]):
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if HEADING.match(line)]
            if headings:
                return headings[-1]
    return ""


def expectations(spec: dict) -> list[dict]:
    """A Try-it's ``expect``: one ``{"cell", "pattern"}``, or a list of them (all must match)."""
    expect = spec["expect"]
    return expect if isinstance(expect, list) else [expect]


def try_its(path: Path) -> list[str]:
    """Ids of the markdown cells that hold a Try-it."""
    return [c.id for c in read(path).cells if "Try it" in learner_path.prompts(c)]


def predicts(path: Path) -> list[int]:
    return [i for i, c in enumerate(read(path).cells) if "Predict" in learner_path.prompts(c)]


# --- the core path ------------------------------------------------------------------------------


def cells_of(spec: dict) -> set[str]:
    """The ids of every cell a Try-it edits or reads."""
    return {e["cell"] for e in spec["edit"]} | {e["cell"] for e in expectations(spec)}


def specs(path: Path) -> dict[str, dict]:
    """Each Try-it's metadata, by the id of its markdown cell."""
    return {c.id: c.metadata["tryit"] for c in read(path).cells if c.metadata.get("tryit")}


def core_try_its(path: Path) -> list[str]:
    """The Try-its whose cells are all on the core path: the core-path run tries them."""
    core = {c.id for c in read(path).cells if not learner_path.is_optional(c)}
    return [cell_id for cell_id, spec in specs(path).items() if cells_of(spec) <= core]


def run_core_path(path: Path) -> None:
    """Run the core path in one kernel, as a learner who skips the deep dives does, and try each
    of its Try-its right after the last cell it reads, as that learner would: edit, re-run, look,
    then put it back and re-run. One kernel for both keeps ``make test`` inside its budget."""
    notebook = learner_path.core(read(path))
    ids = by_id(notebook)
    due: dict[int, list[dict]] = {}
    every = specs(path)
    for cell_id in core_try_its(path):
        last = max(ids[e["cell"]] for e in expectations(every[cell_id]))
        due.setdefault(last, []).append(every[cell_id])
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            for spec in due.get(index, []):
                try_it(client, notebook, spec)


def try_it(client: NotebookClient, notebook: nbformat.NotebookNode, spec: dict) -> None:
    """In a running kernel: re-run the Try-it's cells with its edits, check what they show, then
    re-run them as they were."""
    ids = by_id(notebook)
    first = min(ids[e["cell"]] for e in spec["edit"])
    last = max(ids[e["cell"]] for e in expectations(spec))
    originals = {index: notebook.cells[index] for index in range(first, last + 1)}
    copies = {index: copy.deepcopy(cell) for index, cell in originals.items()}
    for edit in spec["edit"]:
        cell = copies[ids[edit["cell"]]]
        cell.source = cell.source.replace(edit["replace"], edit["with"])
    client.allow_errors = True
    try:
        for index, cell in copies.items():
            client.execute_cell(cell, index)
    finally:
        client.allow_errors = False
    check_try_it(copies, ids, spec)
    for index, cell in originals.items():  # (nbclient puts the cell it ran in the notebook)
        client.execute_cell(cell, index)


def check_try_it(cells: dict[int, nbformat.NotebookNode], ids: dict[str, int], spec: dict) -> None:
    """No cell raised on the way, except the ones the Try-it reads; each shows its pattern."""
    expected = expectations(spec)
    shown_by = {ids[e["cell"]] for e in expected}
    for index, cell in cells.items():
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors or "raises-exception" in tags or index in shown_by, (
            f"cell [{index}] raised {errors[0].ename}: {errors[0].evalue}, "
            "before the Try-it's output"
        )
    for e in expected:
        shown = printed(cells[ids[e["cell"]]])
        assert re.search(e["pattern"], shown), (
            f"after the edit, cell [{ids[e['cell']]}] shows:\n{shown}\nnot /{e['pattern']}/"
        )


def run_try_it(path: Path, cell_id: str) -> None:
    """A Try-it off the core path: make its edits in a copy of the whole notebook, run it up to
    the last cell it reads, in a kernel of its own, and look for its patterns."""
    notebook = read(path)
    spec = specs(path)[cell_id]
    ids = by_id(notebook)
    for edit in spec["edit"]:
        cell = notebook.cells[ids[edit["cell"]]]
        cell.source = cell.source.replace(edit["replace"], edit["with"])
    last = max(ids[e["cell"]] for e in expectations(spec))
    notebook.cells = notebook.cells[: last + 1]
    execute(notebook, path.parent, allow_errors=True)
    check_try_it(dict(enumerate(notebook.cells)), ids, spec)


def chapter_class(path: Path) -> type:
    """The tests that run chapter ``path`` in kernels: its core path with its Try-its, then
    each Try-it off the core path in a kernel of its own."""

    def test_the_core_path_runs_alone_and_its_try_its_work(self, monkeypatch):
        # Figures are drawn but not rendered to PNG (nbval runs the notebooks with their
        # pictures): about a third less time, measured on chapters 01, 05 and 08.
        monkeypatch.setenv("MPLBACKEND", "agg")
        run_core_path(path)

    tests = {
        "__doc__": f"{path.name}, run as a learner runs it.",
        "test_the_core_path_runs_alone_and_its_try_its_work": (
            test_the_core_path_runs_alone_and_its_try_its_work
        ),
    }
    optional = [cell_id for cell_id in specs(path) if cell_id not in core_try_its(path)]
    if optional:

        @pytest.mark.parametrize("cell_id", optional)
        def test_an_optional_try_it_does_what_it_says(self, cell_id):
            run_try_it(path, cell_id)

        tests["test_an_optional_try_it_does_what_it_says"] = (
            test_an_optional_try_it_does_what_it_says
        )
    return type(f"TestChapter{path.name[:2]}", (), tests)


for _path in CHAPTERS:
    _class = chapter_class(_path)
    globals()[_class.__name__] = _class
del _path, _class


# --- structure, without a kernel ----------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_the_core_path_takes_at_most_45_minutes_and_the_first_cell_says_so(path):
    notebook = read(path)
    core = learner_path.minutes(learner_path.core(notebook).cells)
    assert core <= learner_path.CORE_LIMIT, f"the core path takes {core:.1f} minutes"
    estimate = learner_path.estimate(path)
    first = notebook.cells[0].source
    stated = re.search(r"about (\d+) minutes", first)
    assert stated and int(stated.group(1)) == estimate.everything, (
        f"the first cell says {stated and stated.group(0)!r}; the rule gives {estimate.everything}"
    )
    stated_core = re.search(r"\*\*Core path \(about (\d+) minutes\)", first)
    assert stated_core and int(stated_core.group(1)) == estimate.core, (
        f"the first cell's core path: {stated_core and stated_core.group(0)!r}; "
        f"the rule gives {estimate.core}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_optional_sections_say_so_in_their_heading(path):
    """A heading over optional cells says "optional"; a core heading never does."""
    notebook = read(path)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown" or not cell.source.startswith("#"):
            continue
        heading = cell.source.splitlines()[0]
        if index == 0 or heading.startswith("# "):
            continue
        says = "optional" in heading.lower()
        assert says == learner_path.is_optional(cell), f"cell [{index}] {heading!r}: " + (
            "tagged optional, but its heading does not say so"
            if not says
            else "its heading says optional, but the cell is not tagged"
        )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_try_it_carries_its_edit_and_its_expected_output(path):
    notebook = read(path)
    ids = by_id(notebook)
    found = try_its(path)
    for cell_id in found:
        index = ids[cell_id]
        cell = notebook.cells[index]
        spec = cell.metadata.get("tryit")
        assert spec, f"the Try-it in cell [{index}] has no `tryit` metadata"
        expected = expectations(spec)
        assert all(e["cell"] in ids for e in expected), (
            f"cell [{index}]'s Try-it reads a cell that does not exist"
        )
        expect = min(ids[e["cell"]] for e in expected)
        for edit in spec["edit"]:
            target = ids.get(edit["cell"])
            assert target is not None, f"cell [{index}]'s Try-it edits a cell that does not exist"
            source = notebook.cells[target].source
            assert source.count(edit["replace"]) == 1, (
                f"cell [{index}]'s Try-it: {edit['replace']!r} is not in cell [{target}] once"
            )
            assert target <= expect, f"cell [{index}]'s Try-it reads a cell before the one it edits"
            around = {section(notebook, target)}
            around |= {section(notebook, ids[e["cell"]]) for e in expected}
            assert section(notebook, index) in around, (
                f"cell [{index}]'s Try-it sits in {section(notebook, index)!r}, "
                f"but the cells it edits and reads in {sorted(around)}"
            )
            if not learner_path.is_optional(cell):
                assert not learner_path.is_optional(notebook.cells[target]), (
                    f"cell [{index}]'s Try-it is on the core path, the cell it edits is not"
                )
        assert not all(
            re.search(e["pattern"], printed(notebook.cells[ids[e["cell"]]])) for e in expected
        ), (
            f"cell [{index}]'s Try-it: its patterns already match the saved output, "
            "so the edit changes nothing a learner sees"
        )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_a_predict_is_answered_by_the_code_cell_right_after_it(path):
    """The prompt comes last in its cell, and the next cell is the code that answers it."""
    notebook = read(path)
    for index in predicts(path):
        cell = notebook.cells[index]
        after = re.split(r"\*\*Predict:\*\*", cell.source, maxsplit=1)[1]
        assert not HEADING.search(after), f"cell [{index}]: a heading follows its Predict"
        assert not re.search(r"\n\s*\n\s*\*\*", after), (
            f"cell [{index}]: another bold paragraph follows its Predict"
        )
        assert index + 1 < len(notebook.cells), f"cell [{index}]'s Predict is never answered"
        answer = notebook.cells[index + 1]
        assert answer.cell_type == "code", (
            f"cell [{index}]'s Predict is followed by markdown, not by the code that answers it"
        )
        if not learner_path.is_optional(cell):
            assert not learner_path.is_optional(answer), (
                f"cell [{index}]'s Predict is on the core path, the cell that answers it is not"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_prompt_uses_one_form(path):
    """``**Predict:**`` and ``**Try it:**``, never ``**Predict**:`` or ``**Try it**``."""
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type == "markdown":
            odd = re.findall(r"\*\*(?:Predict|Try it)(?!:\*\*)[^*]*\*\*", cell.source)
            assert not odd, f"cell [{index}] writes a prompt as {odd[0]!r}"


def test_the_estimate_rule_counts_words_cells_and_prompts():
    cells = [
        nbformat.v4.new_markdown_cell(" ".join(["word"] * 300)),
        nbformat.v4.new_markdown_cell("**Predict:** which?\n\n**Try it:** change it."),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    words = 300 + 6
    assert learner_path.minutes(cells) == pytest.approx(words / 150 + 3 * 1.5)
    cells[2].metadata["tags"] = ["optional"]
    notebook = nbformat.v4.new_notebook(cells=cells)
    assert len(learner_path.core(notebook).cells) == 2
    assert learner_path.rounded(32.4) == 30 and learner_path.rounded(32.5) == 35


def unclosed_fences(notebook: nbformat.NotebookNode) -> list[int]:
    """Markdown cells with a ``` fence left open: the prose after it would render as code.

    As in CommonMark, a fence opens with ``` and any info string, and closes only with a line of
    backticks alone: "``` And prose." inside a block closes nothing.
    """
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        inside = False
        for line in cell.source.splitlines():
            if not inside and re.match(r"\s*```", line):
                inside = True
            elif inside and re.fullmatch(r"\s*```\s*", line):
                inside = False
        if inside:
            found.append(index)
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_code_fence_is_closed(path):
    assert unclosed_fences(read(path)) == [], "a fence opens, and the prose after it is code"


def test_a_fence_closed_at_the_end_of_a_line_of_prose_is_found():
    """Chapter 12's slip: "``` This is what..." closes nothing, a fence must be a line."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("```python\nx = 1\n``` And prose.\n\n## A heading"),
        nbformat.v4.new_markdown_cell("```python\nx = 1\n```\n\nAnd prose."),
    ]
    assert unclosed_fences(notebook) == [0]


def test_write_sets_the_times_the_first_cell_states(tmp_path):
    """``tools/learner_path.py --write`` fixes a first cell's times after a chapter changes."""
    notebook = nbformat.v4.new_notebook()
    first = "# 98 · A chapter\n\n**Time:** about 99 minutes. **Core path (about 99 minutes):** all."
    notebook.cells = [
        nbformat.v4.new_markdown_cell(first),
        *(nbformat.v4.new_code_cell("print(1)") for _ in range(10)),
    ]
    notebook.cells[-1].metadata["tags"] = ["optional"]
    path = tmp_path / "98-probe.ipynb"
    nbformat.write(notebook, path)
    assert learner_path.state_times(path)
    written = read(path).cells[0].source
    assert "about 15 minutes" in written and "**Core path (about 15 minutes)" in written
    assert not learner_path.state_times(path), "a second run changes nothing"


def test_printed_text_does_not_depend_on_how_the_kernel_flushed_it():
    cell = nbformat.v4.new_code_cell("print(1); print(2); 1 / 0")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="one\n"),
        nbformat.v4.new_output("stream", name="stdout", text="two\n"),
        nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero"),
    ]
    assert printed(cell) == "one\ntwo\nZeroDivisionError: division by zero\n"
