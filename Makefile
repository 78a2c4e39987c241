# Kota Twin: `make run` starts the demo, `make test` runs the tests, `make bench` the benchmarks.
# Each target creates .venv (Python >= 3.12) and installs the package first when needed.

SHELL := /bin/bash
PYTHON ?= $(shell for p in "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
	$$(command -v python3.13 python3.12 2>/dev/null); do \
	[ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& echo "$$p" && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= scenarios/jakarta_jatinegara.toml

.PHONY: run test bench peers system-deps lint clean help

help:
	@echo "make run    - set up and serve the Jatinegara demo on http://127.0.0.1:8050"
	@echo "make test   - set up (incl. PostgreSQL, Mosquitto, Chromium when root) and run the tests"
	@echo "make bench  - run the benchmarks (pytest-benchmark)"
	@echo "make peers  - the same grid in Kota Twin, SUMO and UXsim, side by side"
	@echo "make lint   - ruff and mypy"

$(STAMP): pyproject.toml setup.py $(wildcard core_ext/*.pyx)
	@if [ -z "$(PYTHON)" ]; then echo "Kota Twin needs Python >= 3.12 (set PYTHON=/path/to/python3.12)"; exit 1; fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/kota run $(SCENARIO) --dashboard

system-deps:
	@bash scripts/install_system_deps.sh

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -o python_files='bench_*.py' --benchmark-enable \
		--benchmark-sort=name --benchmark-columns=min,mean,max,rounds -p no:randomly

peers: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[peers]'
	$(BIN)/python -m benchmarks.peers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info core_ext/*.c core_ext/*.so var
