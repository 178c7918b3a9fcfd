# Silkway: `make run` starts the embedded Union, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-shifted lint typecheck unit bench clean

install: $(STAMP)
	@# The MQTT listener tests start Debian's mosquitto on a free port; never fail the install.
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	{ command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq mosquitto || \
	   (apt-get update -qq && apt-get install -y -qq mosquitto)) >/dev/null 2>&1 && \
	  echo "Installed Debian's mosquitto (the MQTT broker the tests start)."; } || \
	echo "Note: mosquitto is missing and could not be installed: MQTT tests are skipped (a failure under CI=true)."

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

# The whole suite with the machine's clock a year ahead, then a year back (Debian's faketime; the
# monotonic clock is left alone). It proves that no test mixes a fixed date with the real clock.
SHIFTS ?= +365d -365d
test-shifted: install
	@command -v faketime >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq faketime || \
	   (apt-get update -qq && apt-get install -y -qq faketime)) >/dev/null 2>&1; } || \
	  { echo "test-shifted needs Debian's faketime (apt-get install faketime)"; exit 1; }
	@for shift in $(SHIFTS); do \
	  echo "== the clock moved $$shift: $$(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f $$shift date -u)"; \
	  FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH=$(CURDIR)/tests/shifted_clock \
	    faketime -f $$shift $(BIN)/python -m pytest -q -p no:cacheprovider || exit 1; \
	done

bench: install
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
