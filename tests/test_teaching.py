"""TEACHING.md agrees with itself and with the chapters (issue 27).

Its table of times is the rule of ``tools/learner_path.py`` applied to each chapter; each plan's
minutes are added up from that table; every chapter has a place in the module and the workshop;
and the taster fits in 90 minutes.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "TEACHING.md").read_text()
spec = importlib.util.spec_from_file_location("learner_path", ROOT / "tools" / "learner_path.py")
assert spec is not None and spec.loader is not None
learner_path = importlib.util.module_from_spec(spec)
sys.modules["learner_path"] = learner_path
spec.loader.exec_module(learner_path)

ESTIMATES = {e.chapter: e for e in map(learner_path.estimate, learner_path.chapters())}
ROW = re.compile(
    r"^\| (\d\d) [^|]*\| (\d+) min \| (\d+) min \| (none|\d+ \(\d+ min\)) \| (\d+) min \|$"
)
PLAN_ROW = re.compile(
    r"^\| ([^|]+?) \| ((?:\d\d, )*\d\d) \| (all|core|core \+ 1 exercise each) \| (\d+) \|$"
)


def plans() -> dict[str, tuple[list[tuple[str, list[str], str, int]], str]]:
    """Each plan's title, its rows (part, chapters, how, minutes) and the total line after them."""
    found = {}
    for block in re.split(r"\n(?=\*\*)", GUIDE.split("## Plans", 1)[1].split("\n## ", 1)[0]):
        title = re.match(r"\*\*(.+?)\*\*", block)
        rows = [PLAN_ROW.match(line) for line in block.splitlines()]
        rows = [(m[1], m[2].split(", "), m[3], int(m[4])) for m in rows if m]
        total = re.search(r"^Total: .*$", block, re.MULTILINE)
        if title and rows:
            found[title.group(1)] = (rows, total.group(0) if total else "")
    return found


def minutes(chapters: list[str], how: str) -> int:
    if how == "all":
        return sum(ESTIMATES[c].everything for c in chapters)
    one = learner_path.MINUTES_PER_EXERCISE if how != "core" else 0
    return sum(ESTIMATES[c].core + (one if ESTIMATES[c].exercises else 0) for c in chapters)


def test_the_rule_stated_is_the_rule_computed():
    assert f"at {learner_path.WORDS_PER_MINUTE} words a minute" in GUIDE
    assert learner_path.MINUTES_PER_STEP == 1.5 and "a minute and a half per code cell" in GUIDE
    assert f"{learner_path.MINUTES_PER_EXERCISE} minutes each" in GUIDE
    assert "rounded to the nearest 5 minutes" in GUIDE


def test_the_table_gives_every_chapter_by_the_rule():
    rows = {m[1]: m for m in map(ROW.match, GUIDE.splitlines()) if m}
    assert sorted(rows) == sorted(ESTIMATES), "one row per chapter"
    for chapter, e in ESTIMATES.items():
        row = rows[chapter]
        exercises = "none" if not e.exercises else f"{e.exercises} ({e.exercise_minutes} min)"
        assert (int(row[2]), int(row[3]), row[4], int(row[5])) == (
            e.everything,
            e.core,
            exercises,
            e.together,
        ), f"TEACHING.md's row for chapter {chapter}: {row.group(0)}"


@pytest.mark.parametrize("title", sorted(plans()))
def test_each_plan_adds_up_from_the_table(title):
    rows, total = plans()[title]
    for part, chapters, how, stated in rows:
        assert stated == minutes(chapters, how), f"{title}, {part}: {minutes(chapters, how)} min"
    added = sum(stated for *_, stated in rows)
    said = re.match(r"Total: (\d+) minutes(?: \(about ([\d.]+) hours\))?\.$", total)
    assert said and int(said[1]) == added, f"{title}: {total!r}, the rows add up to {added}"
    if said[2]:
        assert abs(float(said[2]) - added / 60) <= 0.5, f"{title}: {added} min is not {said[2]} h"


def test_the_plans_place_every_chapter_and_the_taster_fits_90_minutes():
    found = plans()
    module = next(rows for title, (rows, _) in found.items() if "10-week" in title)
    workshop = next(rows for title, (rows, _) in found.items() if "workshop" in title)
    taster = next(rows for title, (rows, _) in found.items() if "90-minute" in title)
    for rows in (module, workshop):
        placed = sorted(c for _, chapters, _, _ in rows for c in chapters)
        assert placed == sorted(ESTIMATES), f"placed {placed}"
    assert len(module) == 10 and all(stated <= 90 for *_, stated in module)
    assert sum(stated for *_, stated in taster) <= 90
