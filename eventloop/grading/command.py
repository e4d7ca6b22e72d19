"""The ``grade`` sub-command: its options and its help, without importing nbclient.

``python -m eventloop --help`` must stay fast and work without the grading
extra installed, so the grading modules are imported only when ``grade`` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eventloop.cli_values import duration, how_many

GRADE_HELP = """\
Run exercise notebooks, each in a fresh kernel from a copy of its own folder, and
print a table of the verdicts of their checks (passed / failed / not attempted).

    python -m eventloop grade submissions/            # one folder per student
    python -m eventloop grade exercises/03-select.ipynb --csv grades.csv

Saved outputs are ignored, and so are printed verdict lines: only verdicts the
course's checks sign during this run count. A cell that runs too long is
interrupted, a notebook that runs too long is stopped, a kernel that dies is
noted; a cell that binds a fixed port is not run (the other exercises are).
Every student gets a row for every notebook the class handed in ("missing" if
they did not) and a total over all of them. Copies of the same work are noted,
untouched copies of the hand-out (--handout) are not. A file named *.ipynb that
is not one to read (a FIFO, a device, a folder, a link out of the submission,
over 20 MB) is listed under "could not grade". The CSV is checked before
grading starts, written as notebooks are graded, and complete before the table
is printed. Ctrl-C or SIGTERM stops grading, kills every kernel, exits 130.
The exercises to grade come from the worked answers (--solutions, default:
solutions/ beside the package): if they cannot be read, nothing is graded and
the exit status is 2. Otherwise the exit status is 0, whatever the grades.
Linux and macOS (Windows: use WSL).

Each kernel is confined: a private copy of its folder is the only place it can
write; as root it runs as another user (nobody, or --user); its environment
holds none of yours; it is started by python -I (a module handed in beside the
notebook is not the kernel); it has CPU, memory, file size and open file limits;
and with bubblewrap (apt-get install bubblewrap) it sees neither solutions/, nor
the other submissions, nor any other process, and has only a loopback network.
What holds on this machine is listed at the end of this help. Not run as root,
kernels run as you: bubblewrap still confines them as above, but without it a
notebook RUNS WITH YOUR RIGHTS: grade as root, or in a throw-away container.
Names and outputs come from students: control characters, newlines included,
are shown as escapes in the table and the CSV, and the CSV quotes cells a
spreadsheet would read as formulas.
"""


def add_grade_command(commands: argparse._SubParsersAction) -> None:
    """``grade``: its options, and ``run_grade`` to run it."""
    parser = commands.add_parser(
        "grade",
        help="run exercise notebooks and tabulate their verdicts",
        description=GRADE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks or folders")
    parser.add_argument(
        "--solutions",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="the worked answers, which list the exercises to grade (default: solutions/ beside "
        "the package); grading stops if they cannot be read",
    )
    parser.add_argument(
        "--timeout", type=duration, default=60.0, help="seconds per notebook (default: 60)"
    )
    parser.add_argument(
        "--cell-timeout", type=duration, default=30.0, help="seconds per cell (default: 30)"
    )
    parser.add_argument(
        "--jobs",
        type=how_many,
        default=available_cores(),
        help="notebooks graded at the same time (default: the cores available, %(default)s)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="also write the table to this file")
    parser.add_argument(
        "--checks-folder",
        type=Path,
        action="append",
        default=[],
        metavar="FOLDER",
        help="a folder of your own checks (for exercises you wrote) to trust like the course's",
    )
    parser.add_argument(
        "--handout",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="the exercise notebooks as handed out: untouched copies are not noted as copies "
        "(default: the course's exercises/)",
    )
    parser.add_argument(
        "--user",
        default=None,
        help="run the kernels as this user (default when run as root: nobody; otherwise you)",
    )
    parser.add_argument(
        "--allow-fixed-ports",
        action="store_true",
        help="run notebooks that bind a fixed port anyway (they may collide)",
    )
    parser.set_defaults(run=run_grade)
    standard = parser.format_help

    def format_help() -> str:
        """The help, then what is contained on this machine (probed only when asked)."""
        from eventloop.grading.sandbox import containment_report

        lines = "".join(f"  - {line}\n" for line in containment_report())
        return f"{standard()}\non this machine:\n{lines}"

    parser.format_help = format_help  # type: ignore[method-assign]


def available_cores() -> int:
    """The cores this process may use (a container or ``taskset`` may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_grade(args: argparse.Namespace) -> int:
    """Imported here: grading needs nbclient, which serving does not."""
    try:
        from eventloop.grading.grade import main as grade_main
    except ModuleNotFoundError as missing:
        print(
            f"error: grading needs {missing.name}, from the teachers' extra: "
            "pip install -e '.[teach]'",
            file=sys.stderr,
        )
        return 2
    return grade_main(args)
