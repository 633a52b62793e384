#!/usr/bin/env bash
# Builds the two stand-in images the container test runs on (no image registry is reachable
# here; python/Dockerfile and kafka/Dockerfile say what each keeps of the real image):
#   kpoc-stand-in/python:3.11   for python:3.11-slim   (kpoc's Dockerfile: PYTHON_IMAGE)
#   kpoc-stand-in/kafka:4.3.1   for apache/kafka:4.3.1 (docker-compose.yml: KAFKA_IMAGE)
# Each is a Debian root filesystem made by mmdebstrap from its `packages` list, then a small
# Dockerfile on top. Cached: every image carries the hash of its inputs (package list,
# Dockerfile, files, this machine's CA bundle, Kafka's jars) in a label and is rebuilt only when
# that hash changes. Prints PYTHON_IMAGE=… and KAFKA_IMAGE=… for the caller.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUITE=bookworm
JARS=${KPOC_KAFKA_LIBS:-$HOME/.cache/kpoc/kafka-4.3.1/libs}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
LABEL=kpoc.stand-in.hash
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tree_hash() {  # content + mode of every file under $1, independent of where it lives
  (cd "$1" && find . -type f -printf '%m %p\n' | LC_ALL=C sort \
    && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

rootfs() {  # $1 stand-in name: a Debian minbase image with the packages listed in $1/packages
  local pkgs hash tag
  pkgs=$(grep -v '^#' "$here/$1/packages" | xargs | tr ' ' ,)
  hash=$(echo "$SUITE $pkgs" | sha256sum | cut -c1-16)
  tag=kpoc-stand-in/$1-rootfs:$hash
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    echo "stand-ins: mmdebstrap $SUITE +$pkgs -> $tag" >&2
    mmdebstrap --quiet --variant=minbase --include="$pkgs" "$SUITE" - | docker import - "$tag" >/dev/null
  fi
  echo "$tag"
}

image() {  # $1 stand-in name, $2 final tag; the build context is $work/$1
  local base hash
  base=$(rootfs "$1")
  cp -r "$here/$1/." "$work/$1/"
  rm "$work/$1/packages"
  hash=$( (echo "$base"; tree_hash "$work/$1") | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$2" 2>/dev/null)" != "$hash" ]; then
    echo "stand-ins: building $2 (inputs $hash)" >&2
    DOCKER_BUILDKIT=0 docker build -q --build-arg "ROOTFS=$base" --label "$LABEL=$hash" \
      -t "$2" "$work/$1" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
    docker image prune -f --filter "label=$LABEL" >/dev/null  # the previous build, now untagged
  fi
}

[ -r "$CA_BUNDLE" ] || { echo "stand-ins: no CA bundle at $CA_BUNDLE" >&2; exit 1; }
ls "$JARS"/kafka_2.13-*.jar >/dev/null 2>&1 \
  || { echo "stand-ins: no Kafka jars in $JARS; run \`make jars\` (kpoc cluster fetch) first" >&2; exit 1; }

mkdir -p "$work/python" "$work/kafka/libs"
cp "$CA_BUNDLE" "$work/python/host-ca-certificates.crt"
image python kpoc-stand-in/python:3.11
cp -L "$JARS"/*.jar "$work/kafka/libs/"
image kafka kpoc-stand-in/kafka:4.3.1
echo PYTHON_IMAGE=kpoc-stand-in/python:3.11
echo KAFKA_IMAGE=kpoc-stand-in/kafka:4.3.1
