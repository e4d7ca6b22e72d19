"""Sphinx configuration of the course's book site: `make book` builds it into _build/book.

The source folder is the repository itself (so that the notebooks' relative links keep working);
only the pages listed in ``include_patterns`` become pages. The notebooks are shown as committed,
outputs and figures included: nothing is executed (``nb_execution_mode = "off"``), and nothing is
fetched from the network, at build time or when a page is read (no CDN scripts: see below).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Event Loop IO"
author = "The Event Loop IO course authors"
copyright = "the Event Loop IO course authors, MIT License"

root_doc = "book/index"
include_patterns = [
    "book/index.md",
    "notebooks/[0-9][0-9]-*.ipynb",
    "exercises/[0-9][0-9]-*.ipynb",
    "PITFALLS.md",
    "TEACHING.md",
    "benchmarks/README.md",
]
exclude_patterns = [".venv", "_build", "build", "**/.ipynb_checkpoints", "solutions", "tests"]

extensions = ["myst_nb", "course_book"]

# --- the notebooks: shown as committed, never executed --------------------------------------------
nb_execution_mode = "off"
# No widget state is saved in the notebooks (tools/run_notebooks.py strips it): load no widget
# scripts from a CDN. The explorer shows its saved frames instead (eventloop/explorer.py).
nb_ipywidgets_js: dict = {}
# A cell's figure is its saved PNG; its alt text comes from the cell's metadata "alt"
# (book/_ext/course_book.py, checked by tests/test_book.py).
nb_mime_priority_overrides = [
    ("html", "image/png", 5),
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- the "Run it yourself" box on every notebook page (book/_ext/course_book.py) ---------------
# Set by the Pages workflow from the repository it runs in; empty locally: then the box gives
# the two commands only, with no Binder or JupyterHub link.
book_repository_url = os.environ.get("EVENTLOOP_BOOK_REPOSITORY", "")
book_branch = os.environ.get("EVENTLOOP_BOOK_BRANCH", "main")
book_binder_url = os.environ.get("EVENTLOOP_BOOK_BINDER", "https://mybinder.org")
# A JupyterHub with nbgitpuller (a class's own hub), e.g. https://hub.example.edu; empty: no link.
book_jupyterhub_url = os.environ.get("EVENTLOOP_BOOK_JUPYTERHUB", "")

# --- the theme ------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "Event Loop IO"
html_static_path = ["_static"]
html_extra_path = ["_root"]  # index.html at the top: a redirect to the landing page
html_css_files = ["book.css"]
html_favicon = "_static/favicon.svg"  # without one, every page's request for /favicon.ico is a 404
# pydata-sphinx-theme's own default is an empty mode, which it reports as a console error
html_context = {"default_mode": "auto"}
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "home_page_in_toc": True,
    # The wide tables of the reference pages get the page's full width: no "Contents" column.
    "secondary_sidebar_items": {"**": ["page-toc"], "PITFALLS": [], "benchmarks/README": []},
}
