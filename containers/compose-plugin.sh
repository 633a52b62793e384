#!/usr/bin/env bash
# Installs the Docker Compose v2 CLI plugin as ~/.docker/cli-plugins/docker-compose.
# Debian bookworm ships only the old Python docker-compose 1.29, so Compose v2 is built here from
# its Go module (fetched through the Go module proxy; `go install` refuses this module because its
# go.mod has exclude directives). The binary is cached under ~/.cache/kpoc/: building it costs
# ~6-10 min on 2 cores, a cached copy costs nothing.
set -euo pipefail
VERSION=${COMPOSE_VERSION:-v2.40.3}
CACHE=${KPOC_CACHE:-$HOME/.cache/kpoc}/compose-$VERSION
PLUGIN_DIR=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
BIN=$CACHE/docker-compose

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "compose-plugin: no Go toolchain on PATH (needed once to build Compose $VERSION); install Go >= 1.24" >&2; exit 1; }
  echo "compose-plugin: building Docker Compose $VERSION from its Go module (once; cached in $CACHE)" >&2
  dir=$(go mod download -json "github.com/docker/compose/v2@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "compose-plugin: go mod download gave no module directory for $VERSION" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  cp -r "$dir/." "$work/src" && chmod -R u+w "$work/src"
  (cd "$work/src" && nice -n 19 go build -trimpath \
     -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
     -o "$work/docker-compose" ./cmd)
  mkdir -p "$CACHE" && mv "$work/docker-compose" "$BIN"
fi
mkdir -p "$PLUGIN_DIR"
if ! cmp -s "$BIN" "$PLUGIN_DIR/docker-compose"; then
  cp "$BIN" "$PLUGIN_DIR/docker-compose.tmp" && mv "$PLUGIN_DIR/docker-compose.tmp" "$PLUGIN_DIR/docker-compose"
fi
