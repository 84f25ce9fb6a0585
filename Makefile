# lakecrew — the two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-estate
# The suite writes bytecode caches (gitignored) even where the environment sets
# PYTHONDONTWRITEBYTECODE: both workers and every CLI subprocess a test starts then reuse one
# compilation of each module (and pytest's rewritten test modules) instead of compiling again.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

.DEFAULT_GOAL := help
.PHONY: help venv sysdeps demo test unit slow lint typecheck bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/lock.txt requirements/runtime.in requirements/dev.in
	@command -v $(PY) >/dev/null || PY=python3; \
	  test -x $(BIN)/python || $${PY:-$(PY)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/lock.txt -r requirements/runtime.in -r requirements/dev.in
	$(BIN)/pip install -q -c requirements/lock.txt --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install lakecrew with its pinned dependencies

sysdeps: ## Debian packages the integration tests need (PostgreSQL, a Java runtime); idempotent
	@bash .ci/system-packages

demo: $(STAMP) ## build a fresh simulated estate locally and print the report
	$(BIN)/lakecrew demo --project $(DEMO_DIR)

lint: $(STAMP) ## ruff (lint + format check), mypy, and the layer import rules
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m lakecrew.devtools.layers src/lakecrew

test: $(STAMP) sysdeps lint ## lint, then the whole test suite (what CI runs)
	$(PYTEST) -n 2 --dist loadgroup -q --durations=25 tests

unit: $(STAMP) ## the fast unit tests only (not marked slow or integration)
	$(PYTEST) -n 2 --dist loadgroup -q -m "not slow and not integration" tests/unit

slow: $(STAMP) sysdeps ## only the tests marked slow or integration
	$(PYTEST) -n 2 --dist loadgroup -q -m "slow or integration" tests

bench: $(STAMP) ## benchmarks: ratios against same-session baselines, with peak memory
	$(BIN)/python -m benchmarks.run

clean: ## remove the venv and demo output
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
