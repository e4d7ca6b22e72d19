"""What was handed in: the notebooks of a class, who handed each in, and what is odd about it.

``find_notebooks`` walks the folders it is given (one folder per student; a folder
the teacher linked in is followed, each real folder once) and keeps every file named
``*.ipynb``. Nothing is dropped silently: a file that is not a notebook to read (a
FIFO, a device, a folder, a link out of the student's own folder or to nothing, too
large: ``files.why_not_a_notebook``) is kept with the reason, to be listed as not
graded; a link is noted with its target; the same work handed in twice is noted on
both, unless it is the untouched hand-out. The worked answers (``solutions/``) and
the hand-out (``exercises/``) are found beside the package unless given.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from eventloop.grading.files import NOTEBOOK_LIMIT, read_bounded, why_not_a_notebook
from eventloop.grading.results import first_line


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit status 2)."""


@dataclass
class Submission:
    """One notebook to grade, whose student it is, and what the grader noticed about the file."""

    student: str
    path: Path
    notes: list[str] = field(default_factory=list)
    refused: str = ""  # why it is not graded: "a FIFO", "a link out of the submission"...


# --- finding notebooks and their exercises --------------------------------------------------------


def find_notebooks(paths: Iterable[Path], handout: Path | None = None) -> list[Submission]:
    """Every notebook in ``paths`` (files or folders, recursively); links and copies noted.

    Nothing is merged or dropped silently: a link inside the submissions is graded
    and noted with its target; two submissions with the same contents are both
    graded and each notes the other (unless both are the untouched hand-out); a file
    named ``*.ipynb`` that is not a notebook to read is kept with the reason
    (``refused``), to be listed as not graded.
    """
    found: list[Submission] = []
    for path in paths:
        if path.is_dir():
            for notebook in walk_notebooks(path):
                relative = notebook.relative_to(path)
                folder = relative.parent
                student = folder.as_posix() if folder != Path(".") else path.resolve().name
                submission = Submission(student, notebook, symlink_note(path, relative))
                own = path / relative.parts[0] if len(relative.parts) > 1 else path
                submission.refused = why_not_a_notebook(notebook, own) or ""
                found.append(submission)
        elif path.suffix == ".ipynb" and (path.is_file() or path.is_symlink()):
            submission = Submission(path.resolve().parent.name, path, symlink_note(path, Path()))
            submission.refused = why_not_a_notebook(path, path.parent) or ""
            found.append(submission)
        else:
            raise UsageError(f"{path}: not a notebook or a folder")
    if not found:
        raise UsageError("no notebooks found in " + ", ".join(str(p) for p in paths))
    found = once_each(found)
    note_links_and_copies([item for item in found if not item.refused], handout)
    return sorted(found, key=lambda item: (item.path.name, item.student))


def walk_notebooks(folder: Path) -> list[Path]:
    """Every ``*.ipynb`` name under ``folder``, hidden folders left out, each folder once.

    Linked folders are followed (a teacher may link each student's folder in), but
    each real folder is visited once, so that a link loop ends.
    """
    found = []
    seen: set[Path] = set()
    for root, folders, files in os.walk(folder, followlinks=True):
        seen.add(Path(root).resolve())
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and (Path(root) / name).resolve() not in seen
        )
        for name in [*folders, *files]:
            if name.endswith(".ipynb") and not name.startswith("."):
                found.append(Path(root) / name)  # a folder named x.ipynb too: refused later
    return sorted(found)


def once_each(found: list[Submission]) -> list[Submission]:
    """One submission named twice on the command line (a folder and a file in it) is one."""
    seen: set[tuple[str, Path]] = set()
    kept = []
    for submission in found:
        key = (submission.student, submission.path.resolve())
        if key not in seen:
            seen.add(key)
            kept.append(submission)
    return kept


def symlink_note(root: Path, relative: Path) -> list[str]:
    """``["symlink to ..."]`` if the notebook, or a folder on its way from ``root``, is a link."""
    steps = [root / Path(*relative.parts[: i + 1]) for i in range(len(relative.parts))] or [root]
    if any(step.is_symlink() for step in steps):
        try:
            return [f"symlink to {(root / relative).resolve(strict=True)}"]
        except (OSError, RuntimeError):
            return ["symlink to nothing"]
    return []


def digest_of(path: Path) -> bytes | None:
    """SHA-256 of a regular file of at most ``NOTEBOOK_LIMIT`` bytes (else None)."""
    data, complete = read_bounded(path.resolve(), NOTEBOOK_LIMIT)
    return hashlib.sha256(data).digest() if data is not None and complete else None


def note_links_and_copies(submissions: list[Submission], handout: Path | None = None) -> None:
    """Add a note to each submission that another one duplicates (same bytes, same name).

    Copies of the hand-out itself (``handout``, the exercises as given) are not noted:
    in a class, many students hand in an exercise notebook they never started.
    """
    by_content: dict[tuple[str, bytes], list[Submission]] = {}
    for submission in submissions:
        digest = digest_of(submission.path)
        if digest is None:
            continue
        if handout is not None and digest_of(handout / submission.path.name) == digest:
            continue
        by_content.setdefault((submission.path.name, digest), []).append(submission)
    for same in by_content.values():
        for submission in same:
            others = [
                f"{other.student}/{other.path.name}" for other in same if other is not submission
            ]
            if len(others) > 3:
                others = [*others[:2], f"{len(others) - 2} others"]
            if others:
                submission.notes.append("same file as " + ", ".join(others))


def course_solutions() -> Path | None:
    """``solutions/`` beside the installed package, when the course is checked out."""
    folder = Path(__file__).resolve().parents[2] / "solutions"
    return folder if folder.is_dir() else None


def course_handout() -> Path | None:
    """``exercises/`` beside the installed package: the notebooks as handed out."""
    folder = Path(__file__).resolve().parents[2] / "exercises"
    return folder if folder.is_dir() else None


def unreadable_solutions(solutions: Path, names: Iterable[str]) -> str | None:
    """Why the worked answers for ``names`` cannot be read, or None if every one can."""
    try:
        present = {entry.name for entry in os.scandir(solutions)}
    except OSError as error:
        return f"{solutions}: {type(error).__name__}: {error.strerror or error}"
    for name in sorted(set(names) & present):
        try:
            nbformat.read(solutions / name, as_version=4)
        except Exception as error:
            return f"{solutions / name}: {type(error).__name__}: {first_line(str(error))}"
    return None
