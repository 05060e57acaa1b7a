# did-app: `make run` serves the app with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
ADDR := 127.0.0.1:5000
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PYTEST_ARGS ?=
# pytest-xdist workers (0: one process); a file's tests stay on one worker (module fixtures, scratch files)
PYTEST_WORKERS ?= 2

# the Python playwright package never fetches a browser here: tests drive Debian's /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: venv run dev test test-fast bench backup lint chromium postgres

venv: $(VENV)/.installed

# Reinstalled when pyproject.toml changes. Debian's python3 lacks ensurepip until python3-venv is in.
$(VENV)/.installed: pyproject.toml
	if [ ! -x $(BIN)/python ]; then \
		if ! $(PYTHON) -m venv $(VENV); then \
			rm -rf $(VENV); \
			$(SUDO) apt-get update -qq; \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
			$(PYTHON) -m venv $(VENV); \
		fi; \
	fi
	$(BIN)/python -m pip install -q -e '.[test,postgres]'
	touch $@

run: venv
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	SCHEDULER=on MALLOC_ARENA_MAX=2 $(BIN)/gunicorn --no-control-socket -w 2 -k gthread --threads 4 -b $(ADDR) app:app

dev: venv
	$(FLASK) db upgrade
	$(FLASK) run --debug -h $(word 1,$(subst :, ,$(ADDR))) -p $(word 2,$(subst :, ,$(ADDR)))

# Debian's chromium for the browser tests (never a downloaded browser build)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# with DATABASE_URL=postgresql+psycopg://did:did@127.0.0.1:5432/did_test, start a local server first
postgres:
	@if [[ "$${DATABASE_URL:-}" == postgresql* ]]; then bash tests/start_postgres.sh; fi

# Fails on any failure, and also when no test ran (all deselected or skipped).
define run_pytest
	mkdir -p test-results
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --junitxml=test-results/junit.xml $(1) $(PYTEST_ARGS)
	@$(BIN)/python -c 'import sys, xml.etree.ElementTree as ET; \
		root = ET.parse("test-results/junit.xml").getroot(); \
		suites = [root] if root.tag == "testsuite" else list(root); \
		ran = sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites); \
		sys.exit(0 if ran > 0 else "make: no test ran")'
endef

test: venv postgres chromium
	$(call run_pytest,)

test-fast: venv postgres
	$(call run_pytest,-m "not browser")

bench: venv
	$(BIN)/python -m bench

backup: venv
	$(FLASK) backup

lint: venv
	$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(BIN)/python -m pip install -q ruff
	$(BIN)/python -m ruff check .
