# kpoc — every target sets up what it needs on a fresh machine (venv, pip, Kafka jars, Debian pkgs).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KPOC := $(VENV)/bin/kpoc
PYTEST_ARGS ?=

.PHONY: help setup system-deps jars demo test lint clean chaos

help:
	@echo "make demo   - set up, start a local 3-node Kafka cluster, run the seed's demo"
	@echo "make test   - set up and run the whole test suite against a real cluster"
	@echo "make lint   - ruff + mypy"
	@echo "make chaos  - fault scenarios 1-7 at full size on their own cluster"

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Debian packages the tests use: kcat (interop peer), chromium (browser tests).
system-deps:
	@missing=""; command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

jars: $(VENV)/.installed
	$(KPOC) cluster fetch

setup: system-deps $(VENV)/.installed jars

DEMO_ARGS ?=
demo: setup
	$(KPOC) demo $(DEMO_ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Fault scenarios at full size (50,000 messages for scenario 1) on a cluster of their own.
CHAOS_DIR ?= /tmp/kpoc-chaos-cluster
CHAOS_PORT ?= 19092
CHAOS_SCENARIOS ?= 1 2 3 4 5 6 7
chaos: setup
	$(KPOC) cluster up --port $(CHAOS_PORT) --data-dir $(CHAOS_DIR)
	status=0; for s in $(CHAOS_SCENARIOS); do \
	  $(KPOC) chaos $$s --data-dir $(CHAOS_DIR) || status=1; done; \
	$(KPOC) cluster destroy --yes --data-dir $(CHAOS_DIR); exit $$status

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
