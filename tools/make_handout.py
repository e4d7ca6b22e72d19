"""Write the learner's copy of the course: everything a learner runs, no worked answers.

Usage:  python tools/make_handout.py                 write dist/handout/ (what `make handout` runs)
        python tools/make_handout.py --wheel         ... and dist/eventloop_course-*.whl from it
        python tools/make_handout.py --out FOLDER    somewhere else

The checkout holds ``solutions/`` (the worked answers, nbgrader's source notebooks), the
tests and the tools. A learner needs none of them, and on a shared machine must not be able
to read the first. The hand-out is the chapter notebooks, the generated exercise notebooks,
the ``eventloop`` package (its checks compare a learner's code with reference *behaviour*,
they hold no worked answer), and what the notebooks link to (README, PITFALLS, LICENSE) or
install from (pyproject.toml, environment.yml). It is a plain folder: copy it into each home,
or make it a repository of its own for nbgitpuller (``git init`` in it, push, point the link
there). The wheel, built from that folder, is what a hub installs into the learners' shared
environment instead of ``pip install -e`` of a checkout every learner would have to read.

Before it writes anything, and again on the folder it wrote, it checks that no line of any
file opens a solution region (``### BEGIN SOLUTION``, ``<!-- BEGIN SOLUTION -->``) and that
there is no ``solutions/`` folder; it stops with the file's name if there is.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FILES = ["README.md", "LICENSE", "PITFALLS.md", "pyproject.toml", "environment.yml"]
FOLDERS = {"notebooks": "*.ipynb", "exercises": "*.ipynb", "eventloop": "*.py"}
SOLUTION_LINE = re.compile(r"^\s*(#+\s*BEGIN SOLUTION|<!--\s*BEGIN SOLUTION)", re.MULTILINE)
"""A line that opens a solution region, in a notebook's cell source or in any text file."""


class LeakError(RuntimeError):
    """The hand-out would give learners a worked answer; the message names the file."""


def handout_files(root: Path) -> list[Path]:
    """The files of ``root`` a learner gets, relative to it."""
    chosen = [Path(name) for name in FILES if (root / name).is_file()]
    for folder, pattern in FOLDERS.items():
        chosen += sorted(
            path.relative_to(root)
            for path in (root / folder).rglob(pattern)
            if "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts
        )
    return chosen


def check_no_solutions(folder: Path) -> None:
    """Raise LeakError if ``folder`` has a solutions/ folder or a line opening a solution."""
    if (folder / "solutions").exists():
        raise LeakError(f"{folder / 'solutions'}: the worked answers are in the hand-out")
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".ipynb":  # in the JSON, a source line is a quoted, escaped string
            text = text.replace("\\n", "\n").replace('"', "\n")
        match = SOLUTION_LINE.search(text)
        if match:
            raise LeakError(f"{path}: a solution region ({match.group(1).strip()!r})")


def write_handout(out: Path, root: Path = ROOT) -> list[Path]:
    """Replace ``out`` with the learner's copy of ``root``; return the files written."""
    files = handout_files(root)
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / "handout"
        for name in files:
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, staged / name)
        check_no_solutions(staged)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, out)
    check_no_solutions(out)
    return files


def build_wheel(handout: Path, into: Path) -> Path:
    """Build the package's wheel from a copy of ``handout`` (the build writes into its source)."""
    into.mkdir(parents=True, exist_ok=True)
    uv = Path(sys.executable).with_name("uv")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "src"
        shutil.copytree(handout, source)
        built = Path(scratch) / "wheel"
        if uv.exists():
            command = [str(uv), "build", "--quiet", "--wheel", "--out-dir", str(built), str(source)]
        else:
            command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                       "--wheel-dir", str(built), str(source)]  # fmt: skip
        subprocess.run(command, check=True)
        (wheel,) = built.glob("*.whl")
        target = into / wheel.name
        shutil.copy2(wheel, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "handout")
    parser.add_argument("--wheel", action="store_true", help="also build the wheel beside it")
    args = parser.parse_args(argv)
    try:
        files = write_handout(args.out)
    except LeakError as error:
        print(f"make_handout: not written: {error}", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(files)} files, no solutions")
    if args.wheel:
        print(build_wheel(args.out, args.out.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
