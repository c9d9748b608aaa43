PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test install clean eval

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` needs only what running needs; the test extras belong to `make test`.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[voice]'
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,voice]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/livelens demo

eval: $(RUN_STAMP)
	$(BIN)/livelens eval

JS_STAMP := tests/js/node_modules/.package-lock.json

# The JavaScript client tests (tests/js, run from tests/e2e/test_js_clients.py) install with npm ci.
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund

# Everything (storage contract tests on SQLite and PostgreSQL; the e2e suite on SQLite), then the e2e
# suite again with every server on PostgreSQL (LIVELENS_TEST_POSTGRES; see docs/deploy.md), but for the modules
# marked storage_independent (their subject never reaches storage differently).
test: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m pytest
	LIVELENS_E2E_BACKEND=postgres $(BIN)/python -m pytest tests/e2e -m 'not storage_independent'

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info

.PHONY: bench
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py
