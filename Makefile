# ViT, Shape by Shape.  `make book` builds the site, `make test` runs the whole suite;
# both set everything up from nothing first.  `make help` lists the rest.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
MATHJAX := book/_static/mathjax/tex-chtml.js
MATHJAX_VERSION := 3.2.2
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup book test export execute check lab clean distclean

help:
	@echo "make book      set up, then build the site into _build/html"
	@echo "make test      set up, then run the whole suite (sync gates, pytest, nbval, site build)"
	@echo "make export    chapters/*.md -> vit_lib/"
	@echo "make execute   re-run the chapters into their executed twins book/*.ipynb (CHAPTERS=01 for one)"
	@echo "make lab       JupyterLab with jupytext: open chapters/*.md as notebooks"
	@echo "make clean     remove build outputs; make distclean also removes .venv"

setup: $(STAMP) $(MATHJAX)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# MathJax from the npm registry, served by the site itself (no CDN at reading time).
$(MATHJAX):
	mkdir -p .cache/npm
	npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm mathjax@$(MATHJAX_VERSION)
	rm -rf book/_static/mathjax
	cp -r .cache/npm/node_modules/mathjax/es5 book/_static/mathjax

export: $(STAMP)
	$(PY) tools/literate.py export

execute: export
	$(PY) tools/literate.py execute $(CHAPTERS)

book: setup
	$(VENV)/bin/jupyter-book build . -n -W --keep-going
	@echo "site: _build/html/index.html"

check: setup
	$(PY) tools/literate.py check-export
	$(PY) tools/literate.py check-twins

test: check
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval book/ --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
	$(MAKE) book

lab: setup
	$(VENV)/bin/jupyter lab $(LAB_ROOT) chapters/

clean:
	rm -rf _build .pytest_cache .cache book/_static/mathjax
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
