"""How the loops tell of an error they survive: one line on stderr, naming who, what and where.

Used by: ``handlers``, ``timers`` and ``threads`` (and through them every later
loop) when user code raises and the loop goes on, and by ``checks``, whose
verdicts say where a learner's code failed.
Why a module of its own: a loop that drops a failing handler must still say
so, or the bug goes unseen. A traceback per error would bury the other
handlers' output and, in a notebook, point into the package rather than into
the learner's cell. So every loop reports the same way: who raised which
error, at which line (the notebook cell's, when the error passed through one),
and what the loop does now. Written once here, the loops cannot drift apart;
it sits beside the stages rather than in one, because all of them use it.
"""

from __future__ import annotations

import sys
import traceback


def report_error(who: str, error: BaseException, what_next: str) -> None:
    """The one way the loops report an error they survive: one line on stderr.

    Who raised what, where, and what the loop does now; never a traceback,
    which would bury the other handlers' output.
    """
    print(
        f"{who} raised {type(error).__name__}: {error} (at {where_raised(error)}). {what_next}",
        file=sys.stderr,
    )


def where_raised(error: BaseException, cell: str = "a notebook cell") -> str:
    """``line 12 of udp.py`` or ``line 9 of a notebook cell``: where ``error`` was raised.

    When the error came from a library that code in a notebook cell called, the
    cell's line is the useful one: the deepest frame in a cell wins.
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "an unknown place"
    in_cells = [frame for frame in frames if is_notebook_cell(frame.filename)]
    if in_cells:
        return f"line {in_cells[-1].lineno} of {cell}"
    return f"line {frames[-1].lineno} of {frames[-1].filename.rsplit('/', 1)[-1]}"


def is_notebook_cell(filename: str) -> bool:
    """Code typed in a notebook cell (ipykernel names it after a temporary file)."""
    return filename.startswith("<") or "ipykernel" in filename
