"""Run every chapter notebook in a real JupyterLab, in headless Chromium.

nbval proves that each notebook's *text* is right; it never sees a widget. This
test opens the notebooks the way a learner does: it starts JupyterLab on
127.0.0.1 (a free port, a token, temporary settings), drives it with Playwright
and Debian's Chromium, runs all cells, and checks that

* no cell shows an error, except cells tagged ``raises-exception``;
* every cell ran (a failing cell would stop "Run All" before the others);
* wherever a notebook calls ``explore(``, the explorer renders as a real
  widget with a slider, and moving the slider changes the details it shows.

The notebooks are copied to a temporary folder first, so nothing the browser
does (autosave, checkpoints) touches the repository. One test function runs
them all against one server, so it stays on one xdist worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("EVENTLOOP_CHROMIUM", "/usr/bin/chromium"))
FIXTURE = ROOT / "tests" / "fixtures" / "browser" / "explorer.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 40.0
NOTEBOOK_TIMEOUT = 45.0
"""Seconds one notebook may take in the browser, kernel start included (nbval allows 8)."""
QUIET = 3.0
"""Seconds without a cell finishing after which Run All is taken to have stopped."""
PARALLEL = 3
"""Notebooks running at the same time: kernels mostly wait on sockets, so this saves time."""

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def notebooks_to_check(folder: Path) -> list[Path]:
    """The chapter notebooks (``NN-*.ipynb``) in ``folder``, then the explorer fixture."""
    chapters = sorted(folder.glob("[0-9]*.ipynb"))
    return chapters + [folder / FIXTURE.name]


def uses_explorer(path: Path) -> bool:
    """Whether a code cell of the notebook calls ``explore(``."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return any(
        cell["cell_type"] == "code" and "explore(" in "".join(cell["source"]) for cell in cells
    )


@pytest.fixture(scope="module")
def playwright_api():
    """Playwright, driving Debian's Chromium; skips (saying why) when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set EVENTLOOP_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "playwright is not installed (pip install playwright; no browser download needed)"
        )
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server over a temporary copy of the notebooks: yields (lab URL, root)."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(FIXTURE, root / FIXTURE.name)
    env = dict(os.environ)
    for name in ("runtime", "config", "settings", "workspaces", "ipython"):
        (base / name).mkdir()
    env.update(
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        IPYTHONDIR=str(base / "ipython"),
    )
    # no "get notified about Jupyter news?" pop-up over the notebooks
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    token = os.urandom(16).hex()
    log = (base / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.allow_root=True",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kernels go down with it
    )
    try:
        began = time.monotonic()
        url = wait_for_server(base / "runtime", server, base / "server.log")
        print(f"\njupyter lab started in {time.monotonic() - began:.1f} s")
        yield f"{url}/lab?token={token}", root
    finally:
        stop(server)
        log.close()


def wait_for_server(runtime: Path, server: subprocess.Popen, log: Path) -> str:
    """The server's base URL, read from the jpserver-<pid>.json it writes once it listens."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    info = runtime / f"jpserver-{server.pid}.json"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{log.read_text()[-3000:]}")
        if info.exists():
            try:
                return json.loads(info.read_text())["url"].rstrip("/")
            except (ValueError, KeyError):
                pass  # written but not complete yet
        time.sleep(0.1)
    raise RuntimeError(
        f"jupyter lab did not start in {SERVER_START_TIMEOUT} s:\n{log.read_text()[-3000:]}"
    )


def stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels (its process group): politely, then firmly."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


# Runs in the page. Opens a notebook, waits for its kernel, starts "Run All" and returns at
# once: Python polls the state, so several notebooks run at the same time.
START = """
(path) => {
  const app = window.jupyterapp;
  window.__runs = window.__runs || {};
  const run = window.__runs[path] = {phase: 'opening', panel: null, error: null};
  (async () => {
    await app.restored;
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    run.panel = panel;
    await panel.context.ready;
    await panel.sessionContext.ready;
    run.phase = 'starting kernel';
    while (panel.sessionContext.session?.kernel?.status !== 'idle') {
      await new Promise(r => setTimeout(r, 100));
    }
    // widgetId names the notebook to run: the active one may be another notebook by now
    const done = app.commands.execute(
      'notebook:run-all-cells', {widgetId: panel.id, activate: false});
    run.phase = 'running';
    await done;  // resolves when the last cell has run, or Run All stopped at an error
    run.phase = 'done';
  })().catch(error => { run.error = String(error); });
}
"""

# Runs in the page: where a notebook is, and what each code cell did.
REPORT = """
(path) => {
  const run = window.__runs[path];
  const panel = run.panel;
  const cells = panel ? panel.content.widgets.filter(c => c.model.type === 'code') : [];
  return {
    phase: run.phase,
    error: run.error,
    id: panel ? panel.id : null,
    idle: panel?.sessionContext.session?.kernel?.status === 'idle',
    cells: cells.map(c => ({
      source: c.model.sharedModel.getSource().slice(0, 70),
      tags: c.model.getMetadata('tags') || [],
      count: c.model.executionCount,
      errors: c.model.outputs.toJSON()
        .filter(o => o.output_type === 'error')
        .map(o => o.ename + ': ' + String(o.evalue).slice(0, 200)),
    })),
  };
}
"""

# Runs in the page: bring a notebook to the front, scrolled to its first explore( cell.
SHOW_EXPLORER = """
async (path) => {
  const panel = window.__runs[path].panel;
  window.jupyterapp.shell.activateById(panel.id);
  const index = panel.content.widgets.findIndex(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().includes('explore('));
  panel.content.activeCellIndex = index;
  await panel.content.scrollToItem(index, 'start');
}
"""

CLOSE = """
async (path) => {
  const panel = window.__runs[path].panel;
  if (panel) {
    await panel.sessionContext.shutdown();
    panel.dispose();
  }
  delete window.__runs[path];
}
"""


def finished(report: dict, quiet_for: float) -> bool:
    """Whether a notebook is through: every cell ran, or Run All stopped, or opening failed.

    Run All may return before the last replies arrive, and the kernel is idle for a
    moment between cells, so "stopped early" also needs ``QUIET`` seconds without progress.
    """
    if report["error"]:
        return True
    if report["phase"] != "done" or not report["idle"]:
        return False
    ran = all(cell["count"] is not None for cell in report["cells"])
    return ran or quiet_for > QUIET


def problems_in(name: str, report: dict, timed_out: bool) -> list[str]:
    """What went wrong in one notebook, in words a notebook author can act on."""
    if report["error"]:
        return [f"{name}: could not open or run: {report['error']}"]
    found = []
    for cell in report["cells"]:
        if cell["errors"] and "raises-exception" not in cell["tags"]:
            found.append(f"{name}: {'; '.join(cell['errors'])} in {cell['source']!r}")
    not_run = [cell for cell in report["cells"] if cell["count"] is None]
    if not_run:
        why = (
            f"{report['phase']}, still, after {NOTEBOOK_TIMEOUT:.0f} s"
            if timed_out
            else "Run All stopped"
        )
        found.append(
            f"{name}: {why}: {len(not_run)} of {len(report['cells'])} code cells did not run, "
            f"from {not_run[0]['source']!r}"
        )
    return found


def fixture_sanity(report: dict) -> list[str]:
    """The fixture's tagged cell must show its ZeroDivisionError: errors are really read."""
    tagged = [cell for cell in report["cells"] if "raises-exception" in cell["tags"]]
    seen = [error for cell in tagged for error in cell["errors"]]
    if any(error.startswith("ZeroDivisionError") for error in seen):
        return []
    return [f"{FIXTURE.name}: the raises-exception cell showed no ZeroDivisionError: {seen}"]


def run_all(page, names: list[str], with_explorer: set[str], shots: Path) -> list[str]:
    """Run the notebooks, ``PARALLEL`` at a time, then check each explorer; return the problems.

    The explorers are checked once nothing else runs: opening a notebook brings it to
    the front, which would hide the explorer (and take the keyboard) mid-check.
    """
    problems: list[str] = []
    waiting = list(names)
    running: dict[str, float] = {}  # name -> deadline
    progress: dict[str, tuple[list, float]] = {}  # name -> (execution counts, since when)
    began = time.monotonic()
    to_check: list[tuple[str, str]] = []  # (name, panel id)
    while waiting or running:
        while waiting and len(running) < PARALLEL:
            name = waiting.pop(0)
            page.evaluate(START, name)
            running[name] = time.monotonic() + NOTEBOOK_TIMEOUT
        time.sleep(0.25)
        for name, deadline in list(running.items()):
            report = page.evaluate(REPORT, name)
            counts = [cell["count"] for cell in report["cells"]]
            if progress.get(name, (None, 0.0))[0] != counts:
                progress[name] = (counts, time.monotonic())
            quiet_for = time.monotonic() - progress[name][1]
            timed_out = time.monotonic() > deadline
            if not (finished(report, quiet_for) or timed_out):
                continue
            del running[name]
            took = time.monotonic() - (deadline - NOTEBOOK_TIMEOUT)
            print(f"{name}: ran in {took:.1f} s (at {time.monotonic() - began:.1f} s)")
            found = problems_in(name, report, timed_out)
            if name == FIXTURE.name:
                found += fixture_sanity(report)
            problems += found
            if name in with_explorer and not found:
                to_check.append((name, report["id"]))
            else:
                page.evaluate(CLOSE, name)
    for name, panel_id in to_check:
        try:
            check_explorer(page, panel_id, name, shots)
        except Exception as error:  # report every notebook, not only the first
            problems.append(f"{name}: explorer: {error}")
        page.evaluate(CLOSE, name)
        print(f"{name}: explorer checked (at {time.monotonic() - began:.1f} s)")
    return problems


def wait_until(condition, seconds: float = 10.0):
    """Poll ``condition()`` until it returns something true, or ``seconds`` pass; return it."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


IMAGE_STATE = "img => img.complete && img.naturalWidth > 300 ? img.src : ''"


def check_explorer(page, panel_id: str, name: str, shots: Path) -> None:
    """The explorer is a real widget, with a slider that changes its details and its picture."""
    page.evaluate(SHOW_EXPLORER, name)
    explorer = page.locator(f"#{panel_id} .eventloop-explorer").first
    explorer.wait_for(state="visible", timeout=15_000)
    handle = explorer.locator(".widget-slider .noUi-handle").first
    assert handle.count() == 1, f"{name}: the explorer has no slider"
    # The widgets replace their inner elements on every change: always query afresh.
    details = explorer.locator(".eventloop-explorer-details pre").first
    image = explorer.locator("img").first
    before = details.inner_text(timeout=5_000)
    assert before.startswith("iteration "), f"{name}: details say {before!r}"
    picture = wait_until(lambda: image.evaluate(IMAGE_STATE))
    assert picture, f"{name}: the timeline picture did not render"
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"{Path(name).stem}-before.png"))

    handle.focus()
    page.keyboard.press("ArrowRight")  # what a learner's keyboard does to a focused slider
    wanted = f"iteration {int(before.split()[1]) + 1}"
    after = wait_until(lambda: (text := details.inner_text()).startswith(wanted) and text)
    assert after, f"{name}: after moving the slider, details say {details.inner_text()!r}"
    new_picture = wait_until(lambda: image.evaluate(IMAGE_STATE) not in ("", picture))
    assert new_picture, f"{name}: the timeline picture did not change with the slider"
    page.screenshot(path=str(shots / f"{Path(name).stem}-after.png"))


def test_notebooks_run_in_jupyterlab(playwright_api, lab, tmp_path):
    lab_url, root = lab
    paths = notebooks_to_check(root)  # the copies: notebooks/ may change while this runs
    with_explorer = {path.name for path in paths if uses_explorer(path)}
    assert FIXTURE.name in with_explorer
    shots = Path(os.environ.get("EVENTLOOP_BROWSER_SHOTS", tmp_path))
    began = time.monotonic()
    browser = playwright_api.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(NOTEBOOK_TIMEOUT * 1000)
        page.goto(lab_url)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=30_000)
        # make install keeps nbgrader (a teacher's tool) out of a learner's JupyterLab
        menus = page.locator(".lm-MenuBar-itemLabel")
        menus.filter(has_text="Kernel").wait_for()  # the menu bar is drawn
        assert "Nbgrader" not in menus.all_inner_texts()
        print(f"JupyterLab loaded in the browser in {time.monotonic() - began:.1f} s")
        problems = run_all(page, [path.name for path in paths], with_explorer, shots)
    finally:
        browser.close()
    assert not problems, "\n".join(problems)
