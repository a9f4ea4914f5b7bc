# The two set-up commands of the README:
#   make demo   install, write a demo data set, process it on SQLite, start the web app
#   make test   install what the tests need and run them
# Everything installs into ./.venv and ./node_modules; nothing is downloaded at run time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed node_modules/.package-lock.json

install-test: $(VENV)/.installed-test node_modules/.package-lock.json
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  echo "installing Debian's nginx for the deploy check tests (nginx -t)"; \
	  apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }

demo: install
	$(BIN)/overwatch demo

test: install-test
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check overwatch tests benchmarks
	$(BIN)/ruff format --check overwatch tests benchmarks
	$(BIN)/mypy

bench: install-test
	$(BIN)/python benchmarks/bench_processing.py
	$(BIN)/python benchmarks/bench_checks.py
	$(BIN)/python benchmarks/bench_whole.py
	$(BIN)/python benchmarks/bench_histograms.py
	$(BIN)/python benchmarks/bench_web.py all

clean:
	rm -rf $(VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache
