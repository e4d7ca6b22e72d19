"""The book site: built from the committed notebooks, then read page by page in headless Chromium.

``make test-book`` (run by ``.ci/run`` after ``make test``) builds the site with Sphinx into a
temporary folder, serves it on 127.0.0.1, and opens every page the way a reader does. Each page
loads with no console error; every figure of the notebook is on the page, loaded, with alt text;
every link inside the site leads to a page (and an anchor) that exists; axe-core finds no serious
or critical accessibility violation; and the search page finds "EventHandler".

Those tests need Sphinx (the ``book`` extra), Chromium and Playwright, so they run only under
``make test-book`` (``EVENTLOOP_TEST_BOOK=1``). The checks of the notebooks' alt text and of the
"Run it yourself" links need nothing more than the notebooks, and run in ``make test`` too.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import figure_alt  # noqa: E402

CHROMIUM = Path(os.environ.get("EVENTLOOP_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))
OTHER_PAGES = ["book/index", "PITFALLS", "TEACHING", "benchmarks/README"]
SERIOUS = {"serious", "critical"}
EXAMPLE_REPOSITORY = "https://github.com/example/eventloop-course"

in_make_test_book = pytest.mark.skipif(
    os.environ.get("EVENTLOOP_TEST_BOOK") != "1",
    reason="builds the site and drives Chromium: run by `make test-book`",
)


# --- what needs only the notebooks --------------------------------------------------------------


def test_every_figure_in_the_notebooks_has_alt_text() -> None:
    problems = []
    for path in CHAPTERS + EXERCISES:
        problems += figure_alt.missing(path)
    assert not problems, "figures without alt text (tools/figure_alt.py sets it):\n" + "\n".join(
        problems
    )


def test_the_alt_text_check_finds_a_figure_without_it(tmp_path: Path) -> None:
    notebook = json.loads(CHAPTERS[3].read_text(encoding="utf-8"))
    cell, _ = figure_alt.figures(notebook)[0]
    del cell["metadata"]["alt"]
    copy = tmp_path / CHAPTERS[3].name
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    figure_alt.ROOT, saved = tmp_path, figure_alt.ROOT
    try:
        assert figure_alt.missing(copy) == [
            f"{copy.name} cell {cell['id']}: 1 figure(s), 0 alt text(s)"
        ]
    finally:
        figure_alt.ROOT = saved


def test_set_alt_changes_only_that_cells_metadata(tmp_path: Path) -> None:
    copy = tmp_path / CHAPTERS[0].name
    copy.write_text(CHAPTERS[0].read_text(encoding="utf-8"), encoding="utf-8")
    cell, _ = figure_alt.figures(json.loads(copy.read_text(encoding="utf-8")))[0]
    figure_alt.set_alt(copy, cell["id"], ["a new description"])
    before = CHAPTERS[0].read_text(encoding="utf-8").splitlines()
    after = copy.read_text(encoding="utf-8").splitlines()
    changed = [line for line in after if line not in before]
    assert [line.rstrip(",") for line in changed] == ['    "alt": "a new description"']


def test_ci_runs_make_test_book_after_make_test() -> None:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines.index("make test-book") > lines.index("make test")
    recipe = (ROOT / "Makefile").read_text().split("\ntest-book:", 1)[1].split("\n\n", 1)[0]
    assert "EVENTLOOP_TEST_BOOK=1" in recipe and "tests/test_book.py" in recipe


def launch_config(**values: str) -> SimpleNamespace:
    settings = dict(
        book_repository_url="",
        book_branch="main",
        book_binder_url="https://mybinder.org",
        book_jupyterhub_url="",
    )
    return SimpleNamespace(**{**settings, **values})


def test_run_it_yourself_links_need_a_repository_and_open_the_notebook() -> None:
    course_book = pytest.importorskip("course_book", reason="needs Sphinx (the `book` extra)")
    assert course_book.launch_links(launch_config(), "notebooks/03-select.ipynb") == []
    config = launch_config(
        book_repository_url="https://github.com/someone/eventloop-course",
        book_jupyterhub_url="https://hub.example.edu/",
    )
    (binder, binder_url), (hub, hub_url) = course_book.launch_links(
        config, "notebooks/03-select.ipynb"
    )
    assert binder_url == (
        "https://mybinder.org/v2/gh/someone/eventloop-course/main?labpath=notebooks/03-select.ipynb"
    )
    assert hub_url == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2F"
        "someone%2Feventloop-course&branch=main"
        "&urlpath=lab%2Ftree%2Feventloop-course%2Fnotebooks%2F03-select.ipynb"
    )


# --- the built site, in a browser ----------------------------------------------------------------


def build(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-c", "book", ".", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The book, built from the committed notebooks into a temporary folder."""
    pytest.importorskip("myst_nb", reason="needs the `book` extra (make test-book installs it)")
    out = tmp_path_factory.mktemp("book")
    began = time.monotonic()
    # as the Pages workflow builds it: the Run-it-yourself boxes link to Binder and a JupyterHub
    result = build(
        out,
        EVENTLOOP_BOOK_REPOSITORY=EXAMPLE_REPOSITORY,
        EVENTLOOP_BOOK_JUPYTERHUB="https://hub.example.edu",
    )
    print(f"\nbuilt the book in {time.monotonic() - began:.1f} s")
    assert result.returncode == 0, result.stderr
    # A warning is a page a reader finds broken: a link MyST cannot resolve (rendered as plain
    # text, so no browser check would see it), a figure without alt text. A code block that
    # Pygments cannot lex is only shown without colours.
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    unexpected = [w for w in warnings if "[misc.highlighting_failure]" not in w]
    assert not unexpected, "\n".join(unexpected)
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The site over HTTP on 127.0.0.1 (a free port), as a reader's browser gets it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/"
        finally:
            httpd.shutdown()
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright; skips (saying why) when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as api:
        browser = api.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


def page_names() -> list[str]:
    """Every page of the book, by its path without .html."""
    return (
        [f"notebooks/{p.stem}" for p in CHAPTERS]
        + [f"exercises/{p.stem}" for p in EXERCISES]
        + OTHER_PAGES
    )


def figure_count(name: str) -> int:
    """How many figures the page's notebook has (0 for a Markdown page)."""
    path = ROOT / f"{name}.ipynb"
    if not path.exists():
        return 0
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(count for _, count in figure_alt.figures(notebook))


# In the page: what a reader would notice is wrong with it.
INSPECT = """
() => ({
  figures: [...document.querySelectorAll('.cell_output img')].map(img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
    loaded: img.complete && img.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  runBox: [...document.querySelectorAll('.run-it-yourself')].map(e => e.innerText),
  runLinks: [...document.querySelectorAll('.run-it-yourself a')].map(a => a.href),
  explorerNotes: document.querySelectorAll('.explorer-note').length,
  previous: document.querySelector('.prev-next-area a.left-prev')?.href ?? null,
  next: document.querySelector('.prev-next-area a.right-next')?.href ?? null,
})
"""

AXE_RUN = """
async (codeToo) => {
  // Every rule on the whole page but colour contrast, then colour contrast, which is most of
  // axe's time: it weighs every highlighted token of every code cell. Code is highlighted by one
  // style sheet on every page, so its contrast is checked in full on CODE_CHECKED_IN_FULL only.
  const options = {resultTypes: ['violations']};
  const rest = await axe.run(document, {...options, rules: {'color-contrast': {enabled: false}}});
  const context = codeToo ? document : {include: [document], exclude: [['.highlight']]};
  const contrast = await axe.run(context, {...options, runOnly: ['color-contrast']});
  return [...rest.violations, ...contrast.violations].map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}
"""
CODE_CHECKED_IN_FULL = {
    "notebooks/03-select",
    "notebooks/12-observability",
    "exercises/05-tcp-connections",
}
"""Pages whose code cells' colour contrast axe checks token by token (see AXE_RUN)."""


@pytest.fixture(scope="module")
def pages(server: str, browser) -> dict[str, dict]:
    """Every page, loaded once: its console errors, figures, links, anchors and axe's verdict."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test-book installs it with npm)")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # The site must work offline: any request that leaves 127.0.0.1 fails the page.
    outside: list[str] = []

    def route(route, request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", route)
    found: dict[str, dict] = {}
    began = time.monotonic()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(f"{r.status} for {r.url}") if r.status >= 400 else None,
        )
        for name in page_names():
            errors.clear()
            outside.clear()
            response = page.goto(server + name + ".html", wait_until="load")
            page.wait_for_load_state("networkidle")
            info = page.evaluate(INSPECT)
            info["status"] = response.status if response else None
            # before axe runs: its own fetches (it re-reads the style sheets, and resolves
            # the theme's `@import "../basic.css"` against the wrong folder) are not the page's
            info["errors"], info["outside"] = list(errors), list(outside)
            page.add_script_tag(path=str(AXE))
            info["axe"] = page.evaluate(AXE_RUN, name in CODE_CHECKED_IN_FULL)
            found[name] = info
    finally:
        context.close()
    print(f"\nread {len(found)} pages with axe-core in {time.monotonic() - began:.1f} s")
    return found


pytestmark = [pytest.mark.timeout(900)]  # the first test reads every page: ~1.5 min on 2 idle cores


@pytest.mark.book
@in_make_test_book
@pytest.mark.parametrize("name", page_names())
def test_the_page_loads_with_no_console_error_and_nothing_from_outside(pages, name) -> None:
    info = pages[name]
    assert info["status"] == 200
    assert info["errors"] == []
    assert info["outside"] == [], "the page asks for something that is not on the site"


@pytest.mark.book
@in_make_test_book
@pytest.mark.parametrize("name", page_names())
def test_every_figure_is_on_the_page_loaded_and_described(pages, name) -> None:
    figures = pages[name]["figures"]
    assert len(figures) == figure_count(name)
    for figure in figures:
        assert figure["loaded"], f"{figure['src']} did not load"
        assert len(figure["alt"]) > 40, f"{figure['src']} has no real alt text: {figure['alt']!r}"


@pytest.mark.book
@in_make_test_book
@pytest.mark.parametrize(
    "name", [n for n in page_names() if n.startswith(("notebooks/", "exercises/"))]
)
def test_every_notebook_page_has_a_run_it_yourself_box(pages, name) -> None:
    (box,) = pages[name]["runBox"]
    assert "make lab" in box and "make test" in box and f"{name}.ipynb" in box
    binder, hub = pages[name]["runLinks"]
    assert binder.startswith("https://mybinder.org/v2/gh/example/eventloop-course/main?labpath=")
    assert binder.endswith(f"{name}.ipynb")
    assert hub.startswith("https://hub.example.edu/hub/user-redirect/git-pull?repo=")


@pytest.mark.book
@in_make_test_book
def test_previous_and_next_links_walk_the_whole_book_in_order(pages, server: str) -> None:
    order = ["book/index"] + [n for n in page_names() if n != "book/index"]
    for before, after in zip(order, order[1:]):
        assert pages[before]["next"] == f"{server}{after}.html", before
        assert pages[after]["previous"] == f"{server}{before}.html", after
    assert pages[order[0]]["previous"] is None and pages[order[-1]]["next"] is None


def explorer_calls(name: str) -> int:
    """How many cells of the page's notebook call ``explore(``."""
    path = ROOT / f"{name}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"] if path.exists() else []
    return sum(c["cell_type"] == "code" and "explore(" in "".join(c["source"]) for c in cells)


@pytest.mark.book
@in_make_test_book
@pytest.mark.parametrize("name", [n for n in page_names() if explorer_calls(n)])
def test_the_explorer_shows_a_still_and_says_the_live_one_needs_a_kernel(pages, name) -> None:
    assert pages[name]["explorerNotes"] == explorer_calls(name)
    assert any(f["alt"].startswith("A still of the explorer") for f in pages[name]["figures"])


@pytest.mark.book
@in_make_test_book
def test_no_internal_link_is_broken(pages, server: str, site: Path) -> None:
    anchors = {server + name + ".html": set(info["ids"]) for name, info in pages.items()}
    broken = []
    for name, info in pages.items():
        for link in info["links"]:
            if not link.startswith(server):
                continue
            target, fragment = urldefrag(link)
            path = site / unquote(target[len(server) :])
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                broken.append(f"{name}: {link} (no such file)")
            elif fragment and target in anchors and unquote(fragment) not in anchors[target]:
                broken.append(f"{name}: {link} (no such anchor)")
    assert not broken, "\n".join(broken)


@pytest.mark.book
@in_make_test_book
@pytest.mark.parametrize("name", page_names())
def test_axe_finds_no_serious_or_critical_violation(pages, name) -> None:
    serious = [v for v in pages[name]["axe"] if v["impact"] in SERIOUS]
    assert not serious, json.dumps(serious, indent=1)


@pytest.mark.book
@in_make_test_book
def test_search_finds_eventhandler(server: str, browser, site: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(server + "search.html?q=EventHandler", wait_until="load")
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=15000)
        links = [
            urljoin(server, h)
            for h in results.locator("a").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
        ]
        assert any("notebooks/04-event-handlers" in link for link in links), links
    finally:
        page.close()


@pytest.mark.book
@in_make_test_book
def test_the_accessibility_check_does_catch_a_violation(server: str, browser) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test-book installs it with npm)")
    assert CODE_CHECKED_IN_FULL <= set(page_names())
    page = browser.new_page()
    try:
        page.goto(server + "PITFALLS.html", wait_until="load")
        page.evaluate(
            """() => document.querySelector('article').insertAdjacentHTML('afterbegin',
                 '<img src="../_static/favicon.svg">'
                 + '<p style="color:#bbbbbb;background:#ffffff">hard to read</p>')"""
        )
        page.add_script_tag(path=str(AXE))
        found = {v["id"]: v["impact"] for v in page.evaluate(AXE_RUN, False)}
        assert found.get("image-alt") == "critical"
        assert found.get("color-contrast") == "serious"
    finally:
        page.close()
