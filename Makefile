# One-command set-up on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OEE_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(OEE_DATA_DIR)/dagster_home

.PHONY: install system-deps demo test up lint format bench bench-quick reliability clean lock

# Pinned installs: every package at the version and hashes of requirements/dev.txt (made by `make lock`),
# then the project itself without dependencies. `pip check` fails when pyproject.toml names a package
# the lock lacks: run `make lock`.
$(BIN)/oee: pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oee_pipelines needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $@

install: $(BIN)/oee

# The run's output is teed to data/demo-output.txt (plain progress lines: not a terminal) and its first
# progress lines and summary replace the README's demo-output block (`make demo README_DEMO=0`: not).
README_DEMO ?= 1
demo: install
	@bash scripts/install-system-deps.sh demo
	@mkdir -p "$(OEE_DATA_DIR)"
	@set -o pipefail; PYTHONUNBUFFERED=1 $(BIN)/oee demo 2>&1 | tee "$(OEE_DATA_DIR)/demo-output.txt"
	@if [ "$(README_DEMO)" = 1 ]; then \
		$(BIN)/python -m oee_pipelines.cli.demo_transcript "$(OEE_DATA_DIR)/demo-output.txt" README.md --root "$(CURDIR)"; \
	fi

system-deps:
	@bash scripts/install-system-deps.sh test

# Lint (ruff + mypy) first: CI runs exactly `make test`, so the type check is part of it.
# The `slow` end-to-end tests are collected first (conftest.py) and handed out two at a time, so
# each worker takes the next long test as it frees up instead of a fixed share of them.
test: install system-deps lint
	$(BIN)/pytest -n 2 --maxschedchunk=2

up: install system-deps
	$(BIN)/oee up

lint: install
	$(BIN)/ruff check oee_pipelines oee_pipelines_tests benchmarks reliability
	$(BIN)/ruff format --check oee_pipelines oee_pipelines_tests benchmarks reliability
	$(BIN)/mypy oee_pipelines/domain oee_pipelines/connectors oee_pipelines/services

format: install
	$(BIN)/ruff check --fix oee_pipelines oee_pipelines_tests benchmarks reliability
	$(BIN)/ruff format oee_pipelines oee_pipelines_tests benchmarks reliability

bench: install system-deps
	$(BIN)/python -m benchmarks.run

bench-quick: install system-deps
	$(BIN)/python -m benchmarks.run --quick

# The fault and load suite (minutes; needs root for the tmpfs mount): figures and what was lost.
reliability: install system-deps
	$(BIN)/python -m reliability.run

# Re-resolves the locks from pyproject.toml, keeping every pin that still fits; `make lock UPGRADE=1`
# moves every package to its newest allowed release. requirements/lock.txt is what the image installs.
LOCK_FLAGS = --quiet --generate-hashes --python-version 3.11 --annotation-style line \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv>=0.5"
	$(BIN)/uv pip compile $(LOCK_FLAGS) pyproject.toml -o requirements/lock.txt
	$(BIN)/uv pip compile $(LOCK_FLAGS) --extra dev -c requirements/lock.txt pyproject.toml -o requirements/dev.txt
	$(BIN)/uv pip compile $(LOCK_FLAGS) requirements/build.in -o requirements/build.txt

clean:
	-$(BIN)/oee db stop
	rm -rf data
