# rootcast — `make run` and `make test` work on a fresh machine (Python 3.11+ with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := --disable-pip-version-check --no-input -q

.DEFAULT_GOAL := help
.PHONY: help run test fuzz report report-browser-test lint format ui server bench skill lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -r requirements.lock
	touch $(STAMP)

run: $(STAMP) ## create the environment, train on the embedded synthetic region, log to MLflow, write the report
	$(BIN)/python train.py --report output/report.html

test: $(STAMP) ## create the environment if needed and run the test suite
	$(BIN)/python -m pytest -q --cov=features --cov=models --cov=experiments --cov=reports --cov=ingest --cov-report=term:skip-covered

fuzz: $(STAMP) ## property-based fuzzing of every input kind, 1,000 random cases each (tests/test_fuzz.py)
	ROOTCAST_FUZZ=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py \
	  --hypothesis-show-statistics -W ignore::RuntimeWarning -W ignore::UserWarning

report: $(STAMP) ## HTML risk report of the last run in output/ (output/report.html)
	$(BIN)/python -m reports --results output --out output/report.html

report-browser-test: $(STAMP) ## render the report in headless Chromium (installs it from Debian packages)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m pytest -q tests/test_report_browser.py

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

UI_URL := http://127.0.0.1:5000/\#/experiments?workflowType=machine_learning
ui: $(STAMP) ## MLflow UI on http://127.0.0.1:5000 for the project's store (opens on training runs: see the URL it prints)
	@echo "MLflow UI: $(UI_URL)  (workflowType=machine_learning: training runs, not the GenAI overview)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

SERVER_PORT ?= 5001
server: $(STAMP) ## MLflow tracking server on http://127.0.0.1:5001 (SERVER_PORT=...): SQLite mlflow-server.db, artifacts in mlartifacts/
	$(BIN)/mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow-server.db \
	  --artifacts-destination $(CURDIR)/mlartifacts --serve-artifacts \
	  --host 127.0.0.1 --port $(SERVER_PORT)

bench: $(STAMP) ## timing benchmarks (figures go into the README)
	$(BIN)/python benchmarks/bench_training.py

skill: $(STAMP) ## held-out skill of the stack vs every baseline on every panel (README table)
	$(BIN)/python benchmarks/bench_skill.py

lock: ## re-resolve requirements.in into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install $(PIP_FLAGS) -r requirements.in
	(echo "# Exact versions installed by make (regenerate with: make lock). Python 3.11."; \
	  .lock-venv/bin/pip freeze --exclude-editable) > requirements.lock
	rm -rf .lock-venv

clean: ## remove the environment and generated output (not the MLflow store)
	rm -rf $(VENV) output .pytest_cache .ruff_cache .coverage
