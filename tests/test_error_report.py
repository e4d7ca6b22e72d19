"""eventloop/error_report.py: an error a loop survives, told in one line: who, what, where."""

from __future__ import annotations

import pytest

from eventloop.error_report import report_error, where_raised


def raised_in(filename: str) -> ValueError:
    """A ValueError raised on line 2 of code compiled as if it came from ``filename``."""
    code = compile("def fail():\n    raise ValueError('x')\n", filename, "exec")
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(ValueError) as caught:
        namespace["fail"]()
    return caught.value


def test_an_error_raised_in_a_notebook_cell_is_located_in_words():
    error = raised_in("/tmp/ipykernel_1/2102354269.py")
    assert where_raised(error) == "line 2 of a notebook cell"
    assert where_raised(error, cell="your cell") == "line 2 of your cell"


def test_an_error_raised_in_a_module_names_the_file_not_its_folders():
    assert where_raised(raised_in("/somewhere/eventloop/udp.py")) == "line 2 of udp.py"


def test_an_error_never_raised_has_no_place():
    assert where_raised(ValueError("made, not raised")) == "an unknown place"


def test_the_report_is_one_line_on_stderr_who_what_where_and_what_next(capsys):
    report_error("Loop: timer tick", raised_in("/x/timers.py"), "The loop goes on.")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "Loop: timer tick raised ValueError: x (at line 2 of timers.py). The loop goes on.\n"
    )
