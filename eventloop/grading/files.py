"""What the grader reads and copies from students' folders: regular files only, and not too much.

A student controls their folder. A "notebook" can be a FIFO (reading it hangs), a link
to ``/dev/zero`` (reading it never ends), a link to a file of the teacher's (reading it
as root shows it in an error message), a folder named ``x.ipynb``, or just 600 MB.
So the grader opens files without following links and without blocking, keeps a file
only if it is a regular one, and reads at most a fixed number of bytes of each. A
kernel gets a private copy of its folder made the same way (``private_copy``): regular
files only, up to ``COPY_LIMIT`` bytes, so that its one writable folder holds nothing
that points elsewhere.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

NOTEBOOK_LIMIT = 20 * 1024 * 1024
"""The largest notebook the grader reads: a course notebook with outputs is under 2 MB."""

COPY_LIMIT = 50 * 1024 * 1024
"""Bytes of a student's folder copied for their kernel (the rest is left out, and noted)."""

COPY_FILES = 2000
"""Files of a student's folder copied for their kernel."""


def read_bounded(path: Path, limit: int) -> tuple[bytes | None, bool]:
    """At most ``limit`` bytes of ``path`` if it is a regular file (never through a link).

    Returns ``(data, complete)``: ``(None, True)`` when there is no such file,
    ``(None, False)`` when it is not a regular file, ``(first bytes, False)`` when
    it is longer than ``limit``.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, True
    except OSError:  # a link (ELOOP), no permission...
        return None, False
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None, False
        data = file.read(limit + 1)
    return data[:limit], len(data) <= limit


def why_not_a_notebook(path: Path, root: Path) -> str | None:
    """Why ``path`` (in the submission ``root``) is not graded, or None if it is one to read.

    ``root`` is one student's folder (the teacher may have linked it in from elsewhere):
    a link in it is followed only when it stays inside it and ends at a regular file.
    """
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "a link to nothing"
    if not target.is_relative_to(root.resolve()):
        return "a link out of the submission"
    mode = os.stat(target).st_mode
    if stat.S_ISDIR(mode):
        return "a folder, not a notebook"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO or a device)"
    if os.stat(target).st_size > NOTEBOOK_LIMIT:
        return f"larger than {NOTEBOOK_LIMIT // (1024 * 1024)} MB"
    return None


def private_copy(source: Path, destination: Path) -> list[str]:
    """Copy the regular files of ``source`` into ``destination``; notes on what was left out.

    Links, FIFOs and devices are not copied; neither are files beyond ``COPY_LIMIT``
    bytes or ``COPY_FILES`` files in all.
    """
    destination.mkdir(parents=True, exist_ok=True)
    copied, size, left_out = 0, 0, 0
    for root, folders, files in os.walk(source, followlinks=False):
        here = destination / Path(root).relative_to(source)
        for name in folders:
            if not os.path.islink(os.path.join(root, name)):
                (here / name).mkdir(exist_ok=True)
        for name in sorted(files):
            path = Path(root) / name
            data, complete = read_bounded(path, COPY_LIMIT - size)
            if data is None:
                continue  # a link, a FIFO, a device: nothing to copy
            if not complete or copied >= COPY_FILES:
                left_out += 1
                continue
            (here / name).write_bytes(data)
            copied, size = copied + 1, size + len(data)
    if left_out:
        limit = f"{COPY_LIMIT // (1024 * 1024)} MB or {COPY_FILES} files"
        return [f"{left_out} file(s) of the folder not copied for the kernel (over {limit})"]
    return []
