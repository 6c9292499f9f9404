# CAVRA Drill Ops — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# `make run` loads the seed schedule and drill history unless told otherwise.
run: export CAVRA_HOME ?= $(CURDIR)/.cavra
run: export CAVRA_GO_ROLLBACK_DRILL_SCHEDULE ?= $(CURDIR)/examples/go-backend-rollback-drill-schedule.json
run: export CAVRA_GO_ROLLBACK_DRILL_HISTORY ?= $(CURDIR)/examples/go-backend-rollback-drills.json

.PHONY: install run test test-unit test-integration lint contracts bench chaos clean

# Reinstall when the packaging changes or a package folder appears or goes (the editable install
# maps each top-level package to its folder when it is made).
$(STAMP): pyproject.toml setup.py $(wildcard libs/*/src apps/*/src services/*/src)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## install, start embedded NATS + PostgreSQL, every service and the API on :8000
	$(BIN)/cavra up

test: $(STAMP)  ## every test: unit + integration against real NATS and PostgreSQL
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	services="$$($(BIN)/python -m cavra_runtime.services --src-dirs)" \
	  && $(BIN)/mypy libs/cavra_contracts/src libs/cavra_runtime/src apps/cli/src $$services

contracts: $(STAMP)  ## regenerate JSON Schema snapshots and docs/asyncapi.yaml
	$(BIN)/cavra contracts

bench: $(STAMP)  ## print every figure: scheduler, delivery, acknowledgements, escalation, reporting, retries, recovery, executive reports (loopback only, bounded)
	$(BIN)/python bench/bench_scheduler.py
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_acknowledgements.py
	$(BIN)/python bench/bench_escalation.py
	$(BIN)/python bench/bench_reporting.py
	$(BIN)/python bench/bench_reporting_evidence.py
	$(BIN)/python bench/bench_retries.py
	$(BIN)/python bench/bench_recovery.py
	$(BIN)/python bench/bench_executive.py

chaos: $(STAMP)  ## kill -9 every process of `cavra up` once under load; print lost / doubled routes
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache
