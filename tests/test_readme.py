"""README.md is for learners first (issue 27): its counts and times are checked, its figure drawn.

Every number the README states in prose (chapters, exercises, pitfalls, test modules) and every
chapter's time is compared with what the repository holds, so a new chapter, exercise or
pitfall that forgets the README fails here. The figure is redrawn by the script that made it.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
spec = importlib.util.spec_from_file_location("learner_path", ROOT / "tools" / "learner_path.py")
assert spec is not None and spec.loader is not None
learner_path = importlib.util.module_from_spec(spec)
sys.modules["learner_path"] = learner_path
spec.loader.exec_module(learner_path)

CHAPTERS = learner_path.chapters()


def stated(pattern: str) -> int:
    found = re.search(pattern, README)
    assert found, f"README no longer says /{pattern}/"
    return int(found.group(1))


def test_the_counts_in_prose_are_true():
    assert stated(r"A Jupyter course in (\d+) chapters") == len(CHAPTERS)
    assert stated(r"The (\d+) chapters from 01 on") == len(CHAPTERS) - 1
    exercises = sum(learner_path.exercises(ROOT / "solutions" / p.name) for p in CHAPTERS)
    assert stated(r"have (\d+) exercises in all") == exercises
    pitfalls = re.findall(r"^\| (\d+) \|", (ROOT / "PITFALLS.md").read_text(), re.MULTILINE)
    assert stated(r"PITFALLS\.md`\]\(PITFALLS\.md\) lists all (\d+)") == len(pitfalls)
    assert [int(n) for n in pitfalls] == list(range(1, len(pitfalls) + 1)), "numbered 1 to N"
    modules = sorted((ROOT / "tests").glob("test_*.py"))
    assert stated(r"runs the (\d+) test\s+modules") == len(modules)


def test_the_chapter_table_gives_each_chapters_time_by_the_rule():
    rows = dict(re.findall(r"^\| (\d\d) \| .*? \| (\d+ min \(\d+\)) \|", README, re.MULTILINE))
    for path in CHAPTERS:
        estimate = learner_path.estimate(path)
        assert rows.get(path.name[:2]) == f"{estimate.everything} min ({estimate.core})", (
            f"README's row for {path.name} gives {rows.get(path.name[:2])!r}"
        )


def test_the_seed_is_cited_and_the_benchmark_log_lives_elsewhere():
    cited = " ".join(README.split())
    assert (
        'the blog post "Event Loop IO" (2017-12-16), built on the *Python Cookbook*, 3rd ed., '
        "recipe 11.12" in cited
    )
    assert "(benchmarks/README.md)" in README
    assert "bench-2026" not in README, "run history belongs in benchmarks/README.md"
    assert "bench-2026" in (ROOT / "benchmarks" / "README.md").read_text()


def test_the_figure_is_committed_and_the_script_draws_it_again(tmp_path):
    figure = re.search(r"!\[[^\]]*\]\((docs/[\w.-]+\.png)\)", README)
    assert figure and (ROOT / figure.group(1)).is_file(), "README shows a committed figure"
    out = tmp_path / "timeline.png"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_figure.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "4 iterations, 4 ready descriptors, 4 handler calls, 0 errors" in run.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
