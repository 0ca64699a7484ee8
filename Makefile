# Customer Lakehouse — every target sets itself up (virtualenv, pinned dependencies) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install demo test lint format bench schemas clean

help:
	@echo "make demo    run the whole local pipeline on the embedded defaults"
	@echo "make test    run the lint and the test suite"
	@echo "make bench   run the benchmarks (slow scale tests included)"
	@echo "make schemas regenerate the contract's JSON Schema files"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/lakehouse demo

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/pytest -m slow
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

schemas: install
	$(BIN)/lakehouse schemas

clean:
	rm -rf $(VENV) .lakehouse .pytest_cache .ruff_cache cdk.out
