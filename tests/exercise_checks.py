"""Helpers for the tests of the exercise checks (tests/test_checks_chNN.py)."""

from __future__ import annotations

import pytest

from eventloop.checks import VERDICT_LINE


def verdict_of(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The status and the whole output of the check that just ran."""
    out = capsys.readouterr().out
    match = VERDICT_LINE.match(out.splitlines()[0])
    assert match, out
    return match["status"], out


def stub(*args: object, **kwargs: object) -> None:
    """An exercise the learner has not started: what the generated stubs do."""
    raise NotImplementedError("Exercise N.M: not done yet")


def hint_of(out: str) -> str:
    """The hint a failed verdict gave ("" when it gave none): where a learner looks for help."""
    return out.split("    hint:", 1)[1] if "    hint:" in out else ""
