# Silkway: `make run` starts the embedded Union, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/silkway run

lint: install
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests

typecheck: install
	$(BIN)/mypy src

test: lint typecheck
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
