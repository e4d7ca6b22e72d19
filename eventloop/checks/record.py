"""The grader's copy of each verdict: written by the checks, never read from printed output.

A check prints its verdict line for the learner (``✓ Exercise 3.2 passed``). A
grader cannot trust that line: a cell can print it without running any check.
So when ``python -m eventloop grade`` runs a notebook, a cell of its own, run
before the student's first cell, calls ``arm(path, key)``. From then on every
verdict is also appended to ``path`` as one JSON line, signed with ``key``
(HMAC-SHA256), and the grader counts only the lines whose signature holds.

What this stops, cheaply: printing a verdict line; defining a ``check_3_2`` of
one's own (its check code is not the course's: recorded as failed); replacing
``verdict``, a ``run_3_2`` or this module's ``record`` (``arm`` took a snapshot
of every function of ``eventloop.checks``; a change is recorded as failed);
a fake ``eventloop.checks`` in ``sys.modules`` or in the student's folder (it
was never armed, or the grader refuses to arm it). What it cannot stop: code
that reads the key out of this module's memory. Arbitrary code running in the
kernel can, in principle, subvert any check that runs beside it; the teacher's
guide says so.

Outside a grader (a learner's own run, the tests) nothing is armed and
``record`` does nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, ModuleType

CHECKS_FOLDER = Path(__file__).resolve().parent


@dataclass
class Armed:
    """Where verdicts go, the key that signs them, and the check code as it was when armed."""

    path: Path
    key: bytes
    trusted: list[Path]  # eventloop/checks/, and the teacher's own checks (--checks-folder)
    snapshot: dict[tuple[str, str], object] = field(default_factory=dict)
    count: int = 0


_armed: Armed | None = None


def arm(path: str, key: str, trusted: list[str] | None = None) -> None:
    """Record every verdict from now on in ``path``, signed with the hex ``key``.

    ``trusted``: folders of the teacher's own checks, trusted like ``eventloop/checks``.
    """
    global _armed
    folders = [CHECKS_FOLDER, *(Path(folder).resolve() for folder in trusted or [])]
    _armed = Armed(Path(path), bytes.fromhex(key), folders, snapshot_of_checks())


def check_modules() -> list[ModuleType]:
    """``eventloop.checks`` and every module in it, imported."""
    package = sys.modules["eventloop.checks"]
    modules = [package]
    for info in pkgutil.iter_modules([str(CHECKS_FOLDER)]):
        modules.append(importlib.import_module(f"eventloop.checks.{info.name}"))
    return modules


def snapshot_of_checks() -> dict[tuple[str, str], object]:
    """Every function and class each check module holds, by (module, name)."""
    return {
        (module.__name__, name): value
        for module in check_modules()
        for name, value in vars(module).items()
        if isinstance(value, (FunctionType, type))
    }


def what_changed() -> str | None:
    """``eventloop.checks.ch03.run_3_2``: the first check function replaced since ``arm``."""
    assert _armed is not None
    for (module_name, name), value in _armed.snapshot.items():
        module = sys.modules.get(module_name)
        if module is None or vars(module).get(name) is not value:
            return f"{module_name}.{name}"
    return None


def is_course_code(check: object, trusted: list[Path]) -> bool:
    """Was ``check`` written in a trusted folder, rather than in a notebook cell?"""
    code = getattr(check, "__code__", None)
    if code is None:
        return False
    return Path(code.co_filename).resolve().parent in trusted


def record(exercise: str, status: str, check: object, detail: str = "") -> None:
    """Append one signed verdict for the grader, if one armed this kernel."""
    if _armed is None:
        return
    changed = what_changed()
    if changed is not None:
        status, detail = "failed", f"not graded: the course's check code was changed ({changed})"
    elif not is_course_code(check, _armed.trusted):
        status, detail = "failed", "not graded: this check is not the course's own"
    _armed.count += 1
    entry = {"n": _armed.count, "exercise": exercise, "status": status, "detail": detail}
    line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    with _armed.path.open("a", encoding="utf-8") as file:
        file.write(f"{signature(_armed.key, line)} {line}\n")


def signature(key: bytes, line: str) -> str:
    return hmac.new(key, line.encode(), hashlib.sha256).hexdigest()


def read_records(path: Path, key: bytes) -> tuple[list[dict[str, str]], int]:
    """The verdicts whose signature holds, in order, and how many lines did not hold."""
    good: list[dict[str, str]] = []
    bad = 0
    if not path.exists():
        return good, bad
    expected_n = 1
    for raw in path.read_text(encoding="utf-8").splitlines():
        mac, _, line = raw.partition(" ")
        try:
            entry = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not hmac.compare_digest(mac, signature(key, line)) or entry.get("n") != expected_n:
            bad += 1
            continue
        expected_n += 1
        good.append(entry)
    return good, bad
