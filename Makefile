# Customer Lakehouse — every target sets itself up (virtualenv, pinned dependencies) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# the scaling run of make bench (bench/bench_scaling.py): event counts, k/M/G suffixes
SCALING_SIZES ?= 1M,10M,30M
STAMP  := $(VENV)/.installed-stamp
# the second test environment: the Glue code on AWS Glue 5.0's Spark and Python modules (tests/glue/requirements.txt)
GLUE_VENV  := .venv-glue
GLUE_BIN   := $(GLUE_VENV)/bin
GLUE_STAMP := $(GLUE_VENV)/.installed-stamp
GLUE_REQS  := tests/glue/requirements.txt
GLUE_TESTS := tests/glue_jobs tests/stream/test_glue_job.py
# tests of SQL text, of the Redshift grammar and of the score load (DuckDB) use no Spark and no Glue module: they
# run in the main environment only; so does the partition-commit kill test (file operations around the writer,
# which the other curated tests run on Spark 3.5)
GLUE_SKIP  := --ignore=tests/glue_jobs/warehouse/test_grammar.py --ignore=tests/glue_jobs/warehouse/test_plan.py \
	--ignore=tests/glue_jobs/warehouse/test_smoke.py --ignore=tests/glue_jobs/sql/test_ddl.py \
	--ignore=tests/glue_jobs/warehouse/test_scores_load.py \
	--ignore=tests/glue_jobs/curated/test_partition_commits.py
# make test runs the part of those that runs every line the whole runs (tests/glue/subset.py chose it, from a coverage
# measurement: make glue-subset); make test-glue-all, run by make bench, runs every one
GLUE_SUBSET := tests/glue/subset.txt
GLUE_COV    := /tmp/lakehouse-glue-subset
# test processes (pytest-xdist): tests/conftest.py keeps each module and the costly session fixtures it shares
# (a built lake, the demo run, a CDK synth) in one process, so each is built once; 1 runs everything in one.
# Three on two cores: the processes wait on the JVM and on subprocesses often enough that a third keeps the cores
# busier (tests/stream: 613 s with two, 497 s with three, 2026-12-02)
TEST_WORKERS ?= 3
PYTEST_PAR := -n $(TEST_WORKERS) --dist loadgroup
# Glue 5.0 runs Python 3.11, and its pinned modules (numpy 1.26, pyspark 3.5) do not install or run on later ones
GLUE_PYTHON ?= python3.11
# LocalStack's runtime without Docker for the slow LocalStack test (docs/localstack.md): localstack-core 2026.3 needs
# Python 3.13; `make bench` builds it when that Python is there and the test skips (saying why) when it is not
LOCALSTACK_VENV   := .venv-localstack
LOCALSTACK_STAMP  := $(LOCALSTACK_VENV)/.installed-stamp
LOCALSTACK_REQS   := tests/localstack/requirements.txt
LOCALSTACK_PYTHON ?= python3.13

.PHONY: help install demo test test-glue test-glue-all glue-subset lint format bench schemas clean synth cdk-check browser localstack-env

help:
	@echo "make demo    run the whole local pipeline on the embedded defaults"
	@echo "make test    run the lint, the import contracts, the offline CDK checks, the test suite and test-glue"
	@echo "make test-glue  on Glue 5.0's Spark 3.5 (.venv-glue), the Glue jobs' tests that run every line all of them"
	@echo "             run (tests/glue/subset.txt; part of make test)"
	@echo "make test-glue-all  every Glue jobs' test on Glue 5.0's Spark 3.5 (part of make bench)"
	@echo "make glue-subset  choose tests/glue/subset.txt again from a coverage measurement (~45 min)"
	@echo "make browser  install Debian's chromium for the dashboard's browser tests (part of make test)"
	@echo "make bench   the slow scale tests, test-glue-all, then every benchmark and the scaling run (bench/suite.py: hours;"
	@echo "             SCALING_SIZES=1M,10M for a shorter scaling run); the table goes to README.md"
	@echo "make localstack-env  LocalStack's runtime without Docker in .venv-localstack (Python 3.13; for make bench)"
	@echo "make schemas regenerate the contract's JSON Schema files"
	@echo "make synth   synthesize every CDK stack offline into cdk.out (STAGE=dev|prod)"
	@echo "make cdk-check  synth, then cdk-nag and cfn-lint on the synthesized templates"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Glue 5.0's versions from tests/glue/requirements.txt; everything else at the versions constraints.txt pins (its lines
# for the packages pinned there are left out); the project editable without its dependencies (it pins pyspark 4).
$(GLUE_STAMP): pyproject.toml constraints.txt $(GLUE_REQS)
	@$(GLUE_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "the Glue test \
		environment needs Python 3.11, as AWS Glue 5.0 runs: install it or set GLUE_PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(GLUE_BIN)/python || $(GLUE_PYTHON) -m venv $(GLUE_VENV)
	$(GLUE_BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	pinned=$$(sed -nE 's/^([A-Za-z0-9_.-]+)==.*/\1/p' $(GLUE_REQS) | paste -sd'|'); \
		grep -viE "^($$pinned)==" constraints.txt > $(GLUE_VENV)/constraints.txt
	$(GLUE_BIN)/python -m pip install --quiet -c $(GLUE_VENV)/constraints.txt -r $(GLUE_REQS)
	$(GLUE_BIN)/python -m pip install --quiet --no-deps -e .
	touch $(GLUE_STAMP)

$(LOCALSTACK_STAMP): $(LOCALSTACK_REQS)
	@$(LOCALSTACK_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 13))' || { echo "LocalStack's runtime \
		needs Python 3.13 or later: install it or set LOCALSTACK_PYTHON=/path/to/python3.13"; exit 1; }
	test -x $(LOCALSTACK_VENV)/bin/python || $(LOCALSTACK_PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet --upgrade "pip==26.3"
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet -r $(LOCALSTACK_REQS)
	touch $(LOCALSTACK_STAMP)

localstack-env: $(LOCALSTACK_STAMP)

test-glue: $(GLUE_STAMP)
	$(GLUE_BIN)/pytest $(PYTEST_PAR) @$(GLUE_SUBSET)

test-glue-all: $(GLUE_STAMP)
	$(GLUE_BIN)/pytest $(PYTEST_PAR) $(GLUE_TESTS) $(GLUE_SKIP)

# measure every Glue test's lines and seconds, choose the subset, measure it and add what it missed (docs/test-time.md)
glue-subset: $(GLUE_STAMP)
	rm -rf $(GLUE_COV) && mkdir -p $(GLUE_COV)
	COVERAGE_FILE=$(GLUE_COV)/all.coverage $(GLUE_BIN)/pytest $(PYTEST_PAR) $(GLUE_TESTS) $(GLUE_SKIP) -p no:cacheprovider \
		--cov=glue_jobs --cov=stream --cov=lakehouse/core --cov-context=test --cov-report= --durations=0 > $(GLUE_COV)/all.log; status=$$?; tail -3 $(GLUE_COV)/all.log; exit $$status
	$(GLUE_BIN)/python tests/glue/subset.py choose $(GLUE_COV)/all.coverage $(GLUE_COV)/all.log > $(GLUE_SUBSET)
	COVERAGE_FILE=$(GLUE_COV)/subset.coverage $(GLUE_BIN)/pytest $(PYTEST_PAR) @$(GLUE_SUBSET) -p no:cacheprovider \
		--cov=glue_jobs --cov=stream --cov=lakehouse/core --cov-context=test --cov-report= --durations=0 > $(GLUE_COV)/subset.log; status=$$?; tail -3 $(GLUE_COV)/subset.log; exit $$status
	$(GLUE_BIN)/python tests/glue/subset.py missed $(GLUE_COV)/all.coverage $(GLUE_COV)/subset.coverage $(GLUE_COV)/all.log $(GLUE_SUBSET) > $(GLUE_COV)/added
	cat $(GLUE_COV)/added >> $(GLUE_SUBSET)

demo: install
	$(BIN)/lakehouse demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# the dashboard's browser tests drive Debian's Chromium (Playwright cannot download its own browser offline)
CHROMIUM := /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { if [ "$$(id -u)" = 0 ]; then echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "the dashboard's browser tests need Debian's chromium: run 'sudo apt-get install chromium' \
		(or 'make browser' as root)"; exit 1; fi; }

test: lint cdk-check browser
	$(BIN)/pytest $(PYTEST_PAR)
	$(MAKE) --no-print-directory test-glue

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@$(MAKE) --no-print-directory localstack-env || echo "no LocalStack environment: its test will skip (docs/localstack.md)"
	$(BIN)/pytest -m slow
	$(MAKE) --no-print-directory test-glue-all
	$(BIN)/python bench/suite.py --readme --scaling-sizes $(SCALING_SIZES)

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
	rm -rf $(VENV) $(GLUE_VENV) .lakehouse .pytest_cache .ruff_cache .hypothesis .grimp_cache .import_linter_cache \
		cdk.out build node_modules *.egg-info
