# Customer Lakehouse — every target sets itself up (virtualenv, pinned dependencies) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install demo test lint format bench schemas clean synth cdk-check

help:
	@echo "make demo    run the whole local pipeline on the embedded defaults"
	@echo "make test    run the lint, the offline CDK checks and the test suite"
	@echo "make bench   run the benchmarks (slow scale tests included)"
	@echo "make schemas regenerate the contract's JSON Schema files"
	@echo "make synth   synthesize every CDK stack offline into cdk.out (STAGE=dev|prod)"
	@echo "make cdk-check  synth, then cdk-nag and cfn-lint on the synthesized templates"

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
	$(BIN)/lint-imports

test: lint cdk-check
	$(BIN)/pytest

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/pytest -m slow
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

schemas: install
	$(BIN)/lakehouse schemas

# --- AWS CDK (infra/): the pinned CLI comes from package-lock.json; no AWS account or credentials needed ---
STAGE      ?= dev
NODE_STAMP := node_modules/.installed-stamp
CDK        := CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 node_modules/.bin/cdk

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

synth: install $(NODE_STAMP)
	$(BIN)/python -m infra.build
	$(CDK) synth --quiet --no-notices -c stage=$(STAGE)

cdk-check: synth
	$(BIN)/python -m infra.check cdk.out

clean:
	rm -rf $(VENV) .lakehouse .pytest_cache .ruff_cache cdk.out build node_modules
