#!/usr/bin/env bash
# `make test-containers`: the compose stack on a real Docker engine, from a fresh machine.
# 1. Debian packages docker.io and mmdebstrap, when missing;
# 2. a Docker engine: the one that answers, else dockerd started here and stopped at the end;
# 3. the Compose v2 plugin (built once from its Go module, cached under ~/.cache/kpoc/);
# 4. the stand-in images for python:3.11-slim and apache/kafka:4.3.1 (containers/stand-ins/,
#    cached by a hash of their inputs), passed as PYTHON_IMAGE and KAFKA_IMAGE;
# 5. pytest -m containers (tests/cluster/test_compose_stack.py).
# KPOC_OFFICIAL_IMAGES=1 skips step 4 and runs on the official images (needs a registry).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

missing=""
for pkg in docker.io mmdebstrap; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

started=$(containers/engine.sh start)
if [ "$started" = started ]; then trap 'containers/engine.sh stop' EXIT; fi
timeout 1800 containers/compose-plugin.sh
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0  # Compose's classic builder

if [ "${KPOC_OFFICIAL_IMAGES:-}" != 1 ]; then
  images=$(timeout 1800 containers/stand-ins/build.sh)
  export ${images?}
fi
$PY -m pytest -m containers tests/cluster/test_compose_stack.py ${PYTEST_ARGS:-}
echo "figures: $(tr -d '\n ' < tests/artifacts/containers-timings.json)"
