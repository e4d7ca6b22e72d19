"""tools/hide_nbgrader.py writes the configuration that keeps nbgrader out of a learner's lab."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "hide_nbgrader", ROOT / "tools" / "hide_nbgrader.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_disables_the_lab_extension_and_each_server_extension(tmp_path, monkeypatch):
    tool = load_tool()
    config = tmp_path / "etc" / "jupyter"
    page = config / "labconfig" / "page_config.json"
    page.parent.mkdir(parents=True)
    page.write_text(json.dumps({"disabledExtensions": {"other": True}}))  # kept
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert tool.main() == 0
    lab = json.loads(page.read_text())
    assert lab["disabledExtensions"] == {"other": True, "@jupyter/nbgrader": True}
    assert lab["lockedExtensions"] == {"@jupyter/nbgrader": True}
    written = sorted(p.name for p in (config / "jupyter_server_config.d").iterdir())
    assert written == sorted(f"{name}.json" for name in tool.SERVER_EXTENSIONS)
    for name in tool.SERVER_EXTENSIONS:
        server = json.loads((config / "jupyter_server_config.d" / f"{name}.json").read_text())
        assert server == {"ServerApp": {"jpserver_extensions": {name: False}}}
        assert f"{name}.json" > "nbgrader.json"  # read after nbgrader's own, so it wins
