# Sereno: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint format bench clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

messages: $(STAMP)
	$(BIN)/python -m sereno.lib.i18n compile

setup: $(STAMP) messages
	$(BIN)/sereno migrate

run: setup
	$(BIN)/sereno run --host $(HOST) --port $(PORT)

test: $(STAMP) messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check sereno tests bench
	$(BIN)/ruff format --check sereno tests bench

format: $(STAMP)
	$(BIN)/ruff format sereno tests bench
	$(BIN)/ruff check --fix sereno tests bench

bench: setup
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) var
