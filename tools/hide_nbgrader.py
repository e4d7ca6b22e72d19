"""Keep nbgrader's menus and server pages out of the course's JupyterLab (``make install``).

nbgrader is installed for teachers (``[teach]``; its command line grades in ``make test``),
but a learner should see the course, not a "Validate" button and a formgrader. This writes
what ``jupyter labextension disable`` and ``jupyter server extension disable --sys-prefix``
would, into this environment's ``etc/jupyter``, in a fraction of a second instead of nine
(each ``jupyter`` command imports the whole server). TEACHING.md says how to turn them on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LAB_EXTENSION = "@jupyter/nbgrader"
SERVER_EXTENSIONS = [
    f"nbgrader.server_extensions.{name}"
    for name in ("formgrader", "validate_assignment", "assignment_list", "course_list")
]


def update_json(path: Path, change: dict[str, dict[str, object]]) -> None:
    """Merge ``change`` (two levels deep) into the JSON file at ``path``."""
    data = json.loads(path.read_text()) if path.exists() else {}
    for section, values in change.items():
        data.setdefault(section, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def main() -> int:
    config = Path(sys.prefix) / "etc" / "jupyter"
    update_json(
        config / "labconfig" / "page_config.json",
        {"disabledExtensions": {LAB_EXTENSION: True}, "lockedExtensions": {LAB_EXTENSION: True}},
    )
    for name in SERVER_EXTENSIONS:  # read after nbgrader's own nbgrader.json, so these win
        update_json(
            config / "jupyter_server_config.d" / f"{name}.json",
            {"ServerApp": {"jpserver_extensions": {name: False}}},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
