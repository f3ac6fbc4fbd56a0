# tokenops: `make run` starts the demo platform, `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= $(or $(TOKENOPS_PORT),8080)

.PHONY: run test test-real lint bench services browser agents lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

run: $(VENV)/.installed
	TOKENOPS_PORT=$(PORT) TOKENOPS_REQUEST_LOG=$${TOKENOPS_REQUEST_LOG:-.tokenops/requests.jsonl} $(BIN)/tokenops serve --config examples/demo.yaml

test: $(VENV)/.installed-test services browser agents
	$(BIN)/ruff check src tests tests_real $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/pytest -q

# The same counting paths against a real inference server (llama-cpp-python, built once into a cache);
# writes bench/results/real-llama-cpp-python.json.
test-real: $(VENV)/.installed-test
	TOKENOPS_REAL_PYTHON=$$(scripts/real-server.sh) $(BIN)/pytest -q tests_real

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests tests_real $(wildcard bench)
	$(BIN)/mypy

services:
	@scripts/services.sh

browser:
	@scripts/browser.sh

# OpenClaw and its Node 24 from the npm registry, once, for tests/test_agents_openclaw.py
agents:
	@scripts/openclaw.sh >/dev/null

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

# Re-pin every dependency (run after changing pyproject.toml).
lock: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) .tokenops .pytest_cache .mypy_cache .ruff_cache
