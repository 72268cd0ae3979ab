# ViT, Shape by Shape.  `make book` builds the site, `make test` runs the whole suite;
# both set everything up from nothing first.  `make help` lists the rest.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
LOCK    := requirements/dev.lock
UV_VERSION := 0.13.8
# pytest-xdist workers for the unit tests and nbval (a notebook stays in one kernel: --dist loadfile)
JOBS    ?= 2
MATHJAX := book/_static/mathjax/tex-chtml.js
MATHJAX_VERSION := 3.2.2
# onnxruntime-web from the npm registry, served by the site for the explorer (one wasm thread,
# no cross-origin isolation needed): the runtime, its WebAssembly and the module that loads it.
ORT := book/_static/ort/ort.wasm.min.js
ORT_VERSION := 1.30.0
ORT_FILES := ort.wasm.min.js ort-wasm-simd-threaded.wasm ort-wasm-simd-threaded.mjs
# axe-core, the accessibility checker the site tests inject into every page (never served by the site).
AXE := .cache/axe/axe.min.js
AXE_VERSION := 4.14.1
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The site tests drive Debian's Chromium (never a browser downloaded by `playwright install`).
# A CJK font makes the Chinese of the glossary legible in the screenshots.
CHROMIUM := /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-wqy-zenhei

.PHONY: help setup lock model book test portability export execute check format figures lab clean distclean browser site-test screenshots datasets translations

help:
	@echo "make book      set up, then build the site into _build/html"
	@echo "make test      set up, then run the whole suite (sync gates, pytest, nbval, site build, site tests)"
	@echo "               (SKIP_BROWSER=1: without Chromium; the link check still runs)"
	@echo "make portability  nbval on every twin again, under simulated other CPUs (CI runs it too)"
	@echo "make site-test test the built site in a headless browser, and its links (after make book)"
	@echo "make screenshots  the site tests, saving a screenshot of every page (_build/screenshots/)"
	@echo "make browser   install Debian's Chromium for the site tests (as root, with apt)"
	@echo "make export    chapters/*.md -> vit_lib/"
	@echo "make execute   re-run the chapters into their executed twins book/*.ipynb (CHAPTERS=01 for one)"
	@echo "make check     the sync gates (vit_lib and the twins against the chapters), glossary links, ruff"
	@echo "make format    ruff format on tools/, tests/ and benchmarks/"
	@echo "make translations  refresh locales/zh_CN/ from the English pages (after changing a page)"
	@echo "make figures   draw the whole-model figures (book/_static/architecture/) from vit_lib's stages"
	@echo "make setup     the virtual environment .venv from $(LOCK), and MathJax (make book/test do it)"
	@echo "make lab       JupyterLab with jupytext: open chapters/*.md as notebooks"
	@echo "make model     re-train the digits ViT that vit_lib ships (vit_lib/weights/, about 2 minutes)"
	@echo "make lock      re-resolve $(LOCK) from pyproject.toml (after changing a dependency)"
	@echo "make datasets  install Debian's Fashion-MNIST (as root, with apt)"
	@echo "make clean     remove build outputs; make distclean also removes .venv"

setup: $(STAMP) $(MATHJAX) $(ORT)

# Exact versions from the lock file, then the package itself without resolving anything again.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The lock file: every package of the dev environment at one version, for every platform and
# Python >= 3.10 (uv's universal resolution writes environment markers). Run after changing a
# dependency in pyproject.toml, or to move to newer releases; commit the result.
lock:
	$(PYTHON) -m venv .cache/lock-venv
	.cache/lock-venv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	.cache/lock-venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.10 \
		--quiet -o $(LOCK)

# MathJax from the npm registry, served by the site itself (no CDN at reading time).
$(MATHJAX):
	mkdir -p .cache/npm
	npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm mathjax@$(MATHJAX_VERSION)
	rm -rf book/_static/mathjax
	cp -r .cache/npm/node_modules/mathjax/es5 book/_static/mathjax

$(ORT):
	mkdir -p .cache/npm-ort book/_static/ort
	npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm-ort onnxruntime-web@$(ORT_VERSION)
	cd .cache/npm-ort/node_modules/onnxruntime-web/dist && cp $(ORT_FILES) $(CURDIR)/book/_static/ort/

$(AXE):
	mkdir -p .cache/npm-axe .cache/axe
	npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm-axe axe-core@$(AXE_VERSION)
	cp .cache/npm-axe/node_modules/axe-core/axe.min.js $(AXE)

export: $(STAMP)
	$(PY) tools/literate.py export

execute: export
	$(PY) tools/literate.py execute $(CHAPTERS)

# The explorer's model and metadata are exported from the shipped weights first (tools/explorer_assets.py).
# The two editions are built at the same time, on two cores (their doctrees, outputs and notebook
# folders are apart); the Chinese build's log is shown after the English one's.
book: setup
	$(PY) tools/explorer_assets.py
	@mkdir -p _build
	@$(PY) tools/translations.py build > _build/zh_CN.log 2>&1 & chinese=$$!; \
	$(VENV)/bin/jupyter-book build . --all -n -W --keep-going; english=$$?; \
	wait $$chinese; zh=$$?; \
	echo "== the Chinese edition (_build/zh_CN.log)"; cat _build/zh_CN.log; \
	[ $$english = 0 ] || { echo "error: the English build failed"; exit 1; }; \
	[ $$zh = 0 ] || { echo "error: the Chinese build failed (_build/zh_CN.log)"; exit 1; }
	@echo "site: _build/html/index.html, 中文版 _build/html/zh_CN/index.html"
	@echo "(the explorer needs the site served: python -m http.server -d _build/html)"

# The sync gates, the glossary links (tools/terms.py), the Chinese edition's catalogues against
# the English pages (tools/translations.py: nothing untranslated, fuzzy or obsolete), then lint:
# ruff check on everything (the chapters' code cells through their
# twins, which check-twins has just proved equal to the chapters), ruff format on what it owns.
check: setup
	$(PY) tools/literate.py check-export
	$(PY) tools/literate.py check-twins
	$(PY) tools/architecture.py --check
	$(PY) tools/terms.py check
	$(PY) tools/translations.py check
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .

# The Chinese edition's catalogues, refreshed from the English pages (locales/README.md says the rest).
translations: setup
	$(PY) tools/translations.py update

# The whole-model figures of the landing page and the chapters, drawn from vit_lib's stage table.
figures: export
	$(PY) tools/architecture.py

# Apply the formatter to tools/, tests/ and benchmarks/ (not to vit_lib or the chapters: see pyproject.toml).
format: setup
	$(VENV)/bin/ruff format .

# The unit tests and nbval on every twin, in one pytest session shared by $(JOBS) workers, so that
# neither waits for the other; the slowest notebook (chapter 12 trains two models) is named first
# to start first. A notebook stays in one kernel (--dist loadfile).
# One thread per worker, notebook kernel and subprocess: $(JOBS) workers on as many cores, no
# oversubscription (it took a fifth off the suite on 2 cores; the outputs are the same).
TEST_ENV := OMP_NUM_THREADS=1
PYTEST_SUITE := --nbval book/12_training.ipynb book/ tests --ignore=tests/website \
	--ignore=tests/test_portability.py \
	--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -p tools.nbval_kernels

# Sync gates; then unit tests and nbval on the twins while the site is built beside them (they do
# not read it; the build fills the cores the tests leave idle, its log goes to _build/book.log and
# is shown afterwards); then the built site itself.
test: check datasets $(if $(SKIP_BROWSER),,browser)
	@mkdir -p _build
	@$(MAKE) --no-print-directory book > _build/book.log 2>&1 & book=$$!; \
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_SUITE) -n $(JOBS) --dist loadfile; tests=$$?; \
	wait $$book; built=$$?; \
	echo "== make book, built beside the tests (_build/book.log)"; cat _build/book.log; \
	[ $$built = 0 ] || { echo "error: make book failed (_build/book.log)"; exit 1; }; \
	[ $$tests = 0 ] || exit $$tests
	$(MAKE) site-test

# The trained digits model that vit_lib ships; re-run only when the recipe or the model's code changes.
model: export
	$(PY) tools/train_digits_model.py

# nbval on every twin again, as on machines with other CPUs (tools/portability.py says how),
# after the proof that this check bites (tests/test_portability.py plants a training number).
portability: setup
	$(PY) -m pytest tests/test_portability.py -p no:cacheprovider
	$(TEST_ENV) $(PY) tools/portability.py -- -n $(JOBS) --dist loadfile

# Every page of _build/html in headless Chromium, served on 127.0.0.1: no console errors, no
# failed or external requests, images loaded, math typeset, search works; plus an offline
# check of every internal link. Screenshots go to _build/screenshots/.
site-test: setup $(AXE)
	SITE_TESTS_REQUIRED=1 SKIP_BROWSER=$(SKIP_BROWSER) AXE_JS=$(AXE) $(PY) -m pytest tests/website \
		-p no:cacheprovider -n $(JOBS) --dist loadscope

# The site tests with a screenshot of every page at 1280 and 390 px in _build/screenshots/ (the
# site tests alone photograph only a page with a problem).
screenshots:
	$(MAKE) site-test SITE_SCREENSHOTS=1

# Fashion-MNIST's IDX files from Debian's dataset-fashion-mnist (MIT), for the loader's smoke
# test and `python -m vit_lib.train --data fashion-mnist`. Where apt is not available (or we
# are not root) the smoke test skips and says how to get the files.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

datasets:
	@if [ -e $(FASHION_MNIST) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing dataset-fashion-mnist with apt-get (once)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST not installed (sudo apt-get install dataset-fashion-mnist); its smoke test will skip"; \
	fi

browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(BROWSER_PACKAGES) with apt-get (once)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	else \
		echo "The site tests need Chromium at $(CHROMIUM). Install it, e.g." ; \
		echo "  sudo apt-get install $(BROWSER_PACKAGES)"; \
		echo "or run the suite without the browser tests: make test SKIP_BROWSER=1"; \
		exit 1; \
	fi

lab: setup
	$(VENV)/bin/jupyter lab $(LAB_ROOT) --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/chapters

clean:
	rm -rf _build .pytest_cache .cache book/_static/mathjax
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
