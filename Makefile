# One-command set-up on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OEE_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(OEE_DATA_DIR)/dagster_home

.PHONY: install system-deps demo test up lint format bench bench-quick reliability clean

$(BIN)/oee: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oee_pipelines needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/oee

demo: install
	@bash scripts/install-system-deps.sh demo
	$(BIN)/oee demo

system-deps:
	@bash scripts/install-system-deps.sh test

test: install system-deps
	$(BIN)/pytest

up: install system-deps
	$(BIN)/oee up

lint: install
	$(BIN)/ruff check oee_pipelines oee_pipelines_tests benchmarks reliability
	$(BIN)/ruff format --check oee_pipelines oee_pipelines_tests benchmarks reliability

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

clean:
	-$(BIN)/oee db stop
	rm -rf data
