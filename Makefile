# CAVRA Drill Ops — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian's chromium for the browser tests, installed once (tests/browser/install_chromium.sh).
BROWSER_STAMP := $(VENV)/.chromium

# `make run` loads the seed schedule and drill history unless told otherwise.
run: export CAVRA_HOME ?= $(CURDIR)/.cavra
run: export CAVRA_GO_ROLLBACK_DRILL_SCHEDULE ?= $(CURDIR)/examples/go-backend-rollback-drill-schedule.json
run: export CAVRA_GO_ROLLBACK_DRILL_HISTORY ?= $(CURDIR)/examples/go-backend-rollback-drills.json

.PHONY: install browser run test test-unit test-integration screenshots lint contracts bench chaos clean

# Reinstall when the packaging changes or a package folder appears or goes (the editable install
# maps each top-level package to its folder when it is made).
$(STAMP): pyproject.toml setup.py $(wildcard libs/*/src apps/*/src services/*/src)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Chromium lives outside the venv: the script touches the stamp only once it is there, so until
# then every `make test` tries again and says what is missing.
$(BROWSER_STAMP): | $(STAMP)
	@tests/browser/install_chromium.sh $(BROWSER_STAMP)

browser: $(BROWSER_STAMP)  ## Debian's chromium for the browser tests (apt, once; says what is missing)

run: $(STAMP)  ## install, start embedded NATS + PostgreSQL, every service and the API on :8000
	$(BIN)/cavra up

test: $(STAMP) $(BROWSER_STAMP)  ## every test: unit + integration against real NATS and PostgreSQL + browser
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

screenshots: $(STAMP) $(BROWSER_STAMP)  ## the browser tests, saving their screenshots into docs/console/
	CAVRA_CONSOLE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -m browser tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	services="$$($(BIN)/python -m cavra_runtime.services --src-dirs)" \
	  && $(BIN)/mypy libs/cavra_contracts/src libs/cavra_runtime/src apps/cli/src $$services

contracts: $(STAMP)  ## regenerate JSON Schema snapshots and docs/asyncapi.yaml
	$(BIN)/cavra contracts

bench: $(STAMP)  ## print every figure: scheduler, delivery, acknowledgements, escalation, reporting, retries, recovery, executive reports, console (loopback only, bounded)
	$(BIN)/python bench/bench_scheduler.py
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_acknowledgements.py
	$(BIN)/python bench/bench_escalation.py
	$(BIN)/python bench/bench_reporting.py
	$(BIN)/python bench/bench_reporting_evidence.py
	$(BIN)/python bench/bench_retries.py
	$(BIN)/python bench/bench_recovery.py
	$(BIN)/python bench/bench_executive.py
	$(BIN)/python bench/bench_console_live.py
	$(BIN)/python bench/bench_console.py

chaos: $(STAMP)  ## kill -9 every process of `cavra up` once under load; print lost / doubled routes
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache
