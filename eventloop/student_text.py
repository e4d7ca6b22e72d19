"""Text a student controls (folder names, notebook outputs), made harmless where a teacher reads it.

Used by: ``grade``. Why: a grade table is printed in the teacher's terminal and opened in
a spreadsheet. A folder named ``=HYPERLINK(...)`` becomes a formula when the CSV is opened
(CSV injection), and an output holding ``ESC [2J`` clears the teacher's screen or rewrites
what the table says (terminal escape sequences). Both are neutralised, visibly.
"""

from __future__ import annotations

import unicodedata

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What spreadsheets read as the start of a formula (OWASP's list)."""


def for_terminal(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), never obeyed.

    Tabs and newlines are kept; everything else in Unicode's "C" categories (ESC, BEL,
    backspace, carriage return, the C1 controls, bidirectional overrides) is made visible.
    """
    shown = []
    for char in text:
        if char in "\t\n" or not unicodedata.category(char).startswith("C"):
            shown.append(char)
        else:
            shown.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(shown)


def for_spreadsheet(cell: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a leading ``'`` before a formula start.

    Numbers pass unchanged, so totals stay numbers.
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
