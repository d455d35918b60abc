# lossbook: build the book, run every test. Each target creates .venv on first use.
#   make html       build the website into _build/html (warnings are errors)
#   make test       lint (ruff), then run every test: unit and parity tests, strict nbval, the site build
#   make serve      serve the built site on http://localhost:8000
#   make notebooks  re-execute every chapter notebook in place and store its outputs
#   make bench      time lossbook against PyTorch (value + gradient)
#   make clean      remove build outputs (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: html test serve notebooks bench clean distclean freeze venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lossbook needs Python 3.11 or newer (the pinned NumPy 2.4 and IPython 9 need it); set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

html: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "The book is built. Open file://$(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(PY) -m ruff check lossbook tests tools
	$(PY) -m pytest

serve: html
	@echo "Serving on http://localhost:$(PORT) (Ctrl-C stops)"
	$(PY) -m http.server --directory _build/html $(PORT)

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

bench: $(STAMP)
	$(PY) tools/bench.py

freeze: $(STAMP)
	$(PY) -m pip freeze --exclude-editable

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
