# lossbook: build the book, run every test. Each target creates .venv on first use.
#   make html       build the website into _build/html (warnings are errors)
#   make test       lint (ruff), then run every test: unit and parity tests, strict nbval, the site build + browser tests
#   make serve      serve the built site on http://localhost:8000
#   make linkcheck  check the book's external links (the weekly workflow runs it)
#   make notebooks  re-execute every chapter notebook in place and store its outputs
#   make bench      time lossbook against PyTorch (value + gradient); `make bench STRICT=1` fails over a goal
#   make portability re-execute the notebooks under other CPU kernel choices and compare (tools/portability.py)
#   make workshop   build the workshop kit into _build/workshop (student notebooks, slides, schedule, zip)
#   make pdf        build the PDF edition into _build/pdf/lossbook.pdf (XeLaTeX; installs TeX as root), then test it
#   make clean      remove build outputs (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000
# pytest workers: notebooks and test modules run in parallel, one file per worker (--dist loadfile)
JOBS   ?= 2

.PHONY: html test serve linkcheck browser notebooks portability bench workshop clean distclean freeze venv pdf tex

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

test: $(STAMP) browser
	$(PY) -m ruff check lossbook tests tools conftest.py
	$(PY) -m pytest -n $(JOBS) --dist loadfile --durations=10

# The site's browser tests need headless Chromium: install Debian's package when it is missing and we may.
# On macOS they use Google Chrome (or LOSSBOOK_CHROMIUM), and are skipped with a message when there is none;
# on Linux they are mandatory.
MAC_CHROME := /Applications/Google Chrome.app/Contents/MacOS/Google Chrome
browser:
	@if [ -n "$$LOSSBOOK_CHROMIUM" ]; then :; \
	elif [ "$$(uname -s)" = Darwin ]; then \
	  [ -x "$(MAC_CHROME)" ] || [ -x "/Applications/Chromium.app/Contents/MacOS/Chromium" ] || \
	    echo "note: no Google Chrome in /Applications; the site's browser tests will be skipped on macOS (they are mandatory on Linux). Install Chrome, or set LOSSBOOK_CHROMIUM."; \
	else \
	  command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -q && apt-get install -y -q chromium) >/dev/null || \
	      echo "note: installing chromium with apt-get failed; the browser tests will fail until it is installed"; \
	  else \
	    echo "note: no Chromium found; the browser tests will fail. Install it: sudo apt-get install -y chromium"; \
	  fi; \
	fi

linkcheck: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder linkcheck

serve: html
	@echo "Serving on http://localhost:$(PORT) (Ctrl-C stops)"
	$(PY) -m http.server --directory _build/html $(PORT)

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

# Re-execute every notebook under other CPU kernel choices and compare with the stored outputs (NB=... for some).
portability: $(STAMP)
	LOSSBOOK_PORTABILITY=1 $(PY) -m pytest -n 0 -q tests/test_portability.py
	$(PY) tools/portability.py --jobs $(JOBS) $(NB)

bench: $(STAMP)
	$(PY) tools/bench.py $(if $(STRICT),--strict)

workshop: $(STAMP)
	$(PY) tools/workshop.py

# The PDF edition: TeX is not needed by `make html` or `make test`; `make pdf` installs Debian's packages when
# it runs as root and they are missing, builds the PDF (tools/pdf.py) and runs its test on it.
TEX_PACKAGES := texlive-xetex latexmk texlive-lang-chinese fonts-noto-cjk fonts-dejavu-core poppler-utils

tex:
	@command -v xelatex >/dev/null 2>&1 && command -v latexmk >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES)) >/dev/null || \
	      echo "note: installing TeX with apt-get failed; install it: apt-get install -y $(TEX_PACKAGES)"; \
	  else \
	    echo "note: no XeLaTeX found. Install it: sudo apt-get install -y $(TEX_PACKAGES)"; \
	  fi

pdf: $(STAMP) tex
	$(PY) tools/pdf.py
	$(PY) -m pytest -p no:cacheprovider -q -n 0 tests/test_pdf.py

freeze: $(STAMP)
	$(PY) -m pip freeze --exclude-editable

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
