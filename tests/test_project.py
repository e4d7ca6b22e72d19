"""The course as a whole: layout, set-up commands, CI, and the rules every notebook keeps."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
ALL_NOTEBOOKS = CHAPTERS + sorted((ROOT / "solutions").glob("*.ipynb"))


def code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


# --- layout and set-up ---------------------------------------------------------------------------


def test_the_top_level_layout_is_complete():
    for name in ("notebooks", "eventloop", "exercises", "solutions", "tests"):
        assert (ROOT / name).is_dir(), name
    for name in (
        "environment.yml",
        "pyproject.toml",
        "Makefile",
        "README.md",
        ".ci/run",
        "LICENSE",
    ):
        assert (ROOT / name).is_file(), name


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_and_pyproject_list_the_same_runtime_packages():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))

    runtime = {
        requirement_name(r): r.replace(" ", "") for r in PYPROJECT["project"]["dependencies"]
    }
    listed = {
        requirement_name(d): d.replace(" ", "") for d in conda if requirement_name(d) != "pip"
    }
    python = listed.pop("python")
    assert listed == runtime, "environment.yml and pyproject.toml disagree on runtime packages"
    assert python == "python" + PYPROJECT["project"]["requires-python"]
    assert pip == ["-e ."], "environment.yml must end by installing the course package itself"


def test_the_readme_gives_the_two_set_up_commands_and_maps_every_chapter():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    for notebook in CHAPTERS:
        assert notebook.name in readme, f"README's chapter table misses {notebook.name}"


def test_ci_runs_make_test_and_make_test_installs_what_it_needs():
    assert re.search(r"^make test$", (ROOT / ".ci/run").read_text(), re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.MULTILINE)
    assert re.search(r"^lab: \$\(STAMP\)", makefile, re.MULTILINE)
    assert "-m venv" in makefile and "-e '.[dev,teach]'" in makefile  # teach: nbgrader's test
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "make_exercises.py --check" in test_recipe
    assert "notebooks solutions" in test_recipe and "$(NBVAL)" in test_recipe


def test_the_package_map_names_every_module():
    package = ROOT / "eventloop"
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    listed = set(re.findall(r"^    (\w+)\s{2,}", docstring, re.MULTILINE))
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert modules <= listed, f"eventloop/__init__.py does not describe: {sorted(modules - listed)}"
    assert listed <= modules, (
        f"eventloop/__init__.py describes missing modules: {sorted(listed - modules)}"
    )


# --- every notebook -------------------------------------------------------------------------------


def test_every_chapter_from_01_has_solutions_and_exercises_of_the_same_name():
    for notebook in CHAPTERS:
        if notebook.name.startswith("00-"):
            continue
        assert (ROOT / "solutions" / notebook.name).exists(), f"solutions/{notebook.name}"
        assert (ROOT / "exercises" / notebook.name).exists(), f"exercises/{notebook.name}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_bind_loopback_and_never_loop_forever(path):
    for source in code_cells(path):
        assert not re.search(r"bind\(\(\s*(''|\"\")", source), "binds '' (every interface)"
        code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
        assert "while True" not in code, "a `while True` cell can hang: bound it (turns, deadline)"
        for port in re.findall(r"bind\(\(\s*['\"][\w.:]*['\"]\s*,\s*(\d+)\s*\)\)", source):
            assert port == "0", f"binds fixed port {port}: use port 0"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_have_a_goal_first_and_a_summary_at_the_end(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown and markdown[0].startswith("# "), "the first cell is the chapter's title"
    assert re.search(
        r"\bgoal\b|you will",
        markdown[0] + (markdown[1] if len(markdown) > 1 else ""),
        re.IGNORECASE,
    ), "the chapter opens with its learning goal"
    if not path.name.startswith("00-"):  # chapter 00 is the course's map, not a lesson
        recap = any(re.match(r"#+ (Summary|Recap)", m) for m in markdown[-3:])
        assert recap, "the chapter ends with a summary (then its exercises)"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_check_cell_shows_its_verdict_line_and_nothing_more(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        outputs = cell.get("outputs", [])
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        if re.search(r"^[✓✗○] Exercise \d+\.\d+ ", printed, re.MULTILINE):
            shown = [o for o in outputs if o.output_type == "execute_result"]
            assert not shown, f"a check cell also displays {shown[0]['data']['text/plain']!r}"


def test_the_teachers_guide_is_linked_and_times_every_chapter():
    assert "(TEACHING.md)" in (ROOT / "README.md").read_text()
    guide = (ROOT / "TEACHING.md").read_text()
    timed = set(re.findall(r"^\| (\d\d) ", guide, re.MULTILINE))
    chapters = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")}
    assert timed == chapters, (
        f"TEACHING.md's table times {sorted(timed)}, chapters {sorted(chapters)}"
    )
    assert "GRADING_MEASUREMENT" not in guide, "the class grading time is still to be measured"
