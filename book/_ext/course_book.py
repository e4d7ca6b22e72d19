"""Sphinx extension for the course's book site (book/conf.py): alt text and "Run it yourself".

Alt text. A figure in a notebook is a PNG output of a code cell, and an ``<img>`` without alt
text says nothing to a reader who cannot see it. The words come from the notebook: the figure's
code cell carries them in its metadata, ``"alt"``, a string (one figure) or a list of strings
(one per figure, in output order). They live in the notebook, beside the figure, so whoever
changes a figure sees the words that describe it; ``tools/figure_alt.py`` sets them. A figure
without alt text is a build warning here, and a failure in ``tests/test_book.py``.

The explorer. Its slider needs a kernel; on a page, the still the notebook saved of the same
recording stands in for it, and a line under it says so.

Run it yourself. A page of the book is a notebook with its saved outputs: every chapter and
exercise page starts with a box that says how to run it (the two commands), and, where
``book_repository_url`` is set (the Pages workflow sets it), links that open that notebook on
Binder or, with ``book_jupyterhub_url``, on a JupyterHub through nbgitpuller.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

NOTEBOOK_FOLDERS = ("notebooks/", "exercises/")
COMMANDS = (
    "make lab    # creates .venv, installs the course, opens JupyterLab\n"
    "make test   # runs every test and every notebook"
)


def figure_alt_texts(cell_metadata: dict) -> list[str]:
    """The alt texts a code cell's metadata gives its figures, in output order."""
    alt = cell_metadata.get("alt", [])
    return [alt] if isinstance(alt, str) else list(alt)


def add_alt_text(app: Sphinx, doctree: nodes.document) -> None:
    """Give every figure of a notebook cell the alt text of its cell's ``"alt"`` metadata."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        images = list(cell.findall(nodes.image))
        if not images:
            continue
        texts = figure_alt_texts(cell.get("cell_metadata", {}))
        where = f"cell {cell.get('cell_metadata', {}).get('id', cell.get('cell_index'))}"
        if len(texts) != len(images):
            logger.warning(
                "%d figure(s) but %d alt text(s) in the cell's metadata 'alt' (%s)",
                len(images),
                len(texts),
                where,
                location=cell,
                type="course_book",
                subtype="alt",
            )
        for image, text in zip(images, texts):
            image["alt"] = text


def cell_source(cell: nodes.container) -> str:
    """The code of a notebook cell, as the page shows it."""
    for part in cell.findall(nodes.container):
        if part.get("nb_element") == "cell_code_source":
            return part.astext()
    return ""


def note_the_explorer_stills(app: Sphinx, doctree: nodes.document) -> None:
    """Under the explorer's still, say that the live explorer needs a kernel, and where to get one.

    The explorer is a widget driven by Python: its slider does nothing on a static page, so the
    notebook saved a still of the same recording (eventloop/explorer.py) and the page shows it.
    """
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code" or "explore(" not in cell_source(cell):
            continue
        if not any(True for _ in cell.findall(nodes.image)):
            continue
        note = nodes.paragraph(classes=["explorer-note"])
        note += nodes.Text(
            "This is a still of the explorer: the live explorer, with its slider and Play "
            "button, needs a running kernel. Run the notebook (see “Run it yourself” at the top "
            "of the page) to step through the iterations yourself."
        )
        cell.parent.insert(cell.parent.index(cell) + 1, note)


def launch_links(config, path: str) -> list[tuple[str, str]]:
    """(label, URL) of the places that can open the notebook at ``path``; none if unset."""
    repository = config.book_repository_url.rstrip("/")
    if not repository:
        return []
    branch = config.book_branch
    links = []
    if config.book_binder_url:
        slug = repository.split("github.com/", 1)[-1]
        binder = config.book_binder_url.rstrip("/")
        links.append(("Open it on Binder", f"{binder}/v2/gh/{slug}/{branch}?labpath={quote(path)}"))
    if config.book_jupyterhub_url:
        name = repository.rsplit("/", 1)[-1]
        query = urlencode(
            {"repo": repository, "branch": branch, "urlpath": f"lab/tree/{name}/{path}"}
        )
        hub = config.book_jupyterhub_url.rstrip("/")
        links.append(("Open it on your JupyterHub", f"{hub}/hub/user-redirect/git-pull?{query}"))
    return links


def run_box(config, path: str, explorer: bool = False) -> nodes.Element:
    """The "Run it yourself" box for the notebook at ``path`` (relative to the course root).

    ``explorer``: the page shows the explorer's still, whose live version needs a kernel.
    """
    box = nodes.admonition(classes=["run-it-yourself", "tip"])
    box += nodes.title(text="Run it yourself")
    intro = nodes.paragraph()
    intro += nodes.Text("This page is ")
    intro += nodes.literal(text=path)
    live = ", and to use the live explorer (it needs a running kernel)" if explorer else ""
    intro += nodes.Text(
        f" with the outputs of its last run. To run it and change it{live}, clone the course "
        "and, in its folder, run:"
    )
    box += intro
    box += nodes.literal_block(COMMANDS, COMMANDS, language="text")
    links = launch_links(config, path)
    if links:
        line = nodes.paragraph()
        line += nodes.Text("Or, without installing anything: ")
        for number, (label, url) in enumerate(links):
            if number:
                line += nodes.Text(" · ")
            line += nodes.reference(text=label, refuri=url)
        line += nodes.Text(".")
        box += line
    return box


def add_run_box(app: Sphinx, doctree: nodes.document) -> None:
    """Put the "Run it yourself" box under the title of every chapter and exercise page."""
    docname = app.env.docname
    if not docname.startswith(NOTEBOOK_FOLDERS):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next(iter(section.findall(nodes.title)))
    explorer = any(
        "explore(" in cell_source(cell)
        for cell in doctree.findall(nodes.container)
        if cell.get("nb_element") == "cell_code"
    )
    box = run_box(app.config, docname + ".ipynb", explorer)
    title.parent.insert(title.parent.index(title) + 1, box)


def setup(app: Sphinx) -> dict:
    app.add_config_value("book_repository_url", "", "html")
    app.add_config_value("book_branch", "main", "html")
    app.add_config_value("book_binder_url", "", "html")
    app.add_config_value("book_jupyterhub_url", "", "html")
    app.connect("doctree-read", add_alt_text)
    app.connect("doctree-read", add_run_box)
    app.connect("doctree-read", note_the_explorer_stills)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
