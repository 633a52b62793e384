#!/usr/bin/env bash
# The Docker engine for `make test-containers`.
#   engine.sh start  - use the engine that answers `docker info`; else start dockerd detached
#                      (Debian's docker.io has no service manager here) and wait for it, bounded.
#                      Prints "started" when it started one, so the caller stops only that.
#   engine.sh stop   - stop the dockerd this script started (its pid file), nothing else.
# Any failure is one line on stderr and exit 1; no wait is unbounded.
set -euo pipefail
STATE=${KPOC_DOCKERD_STATE:-/tmp/kpoc-dockerd}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
WAIT=${KPOC_DOCKERD_WAIT:-60}

answers() { timeout 10 docker info >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if answers; then exit 0; fi
    command -v dockerd >/dev/null || { echo "engine: no dockerd on PATH; install Debian's docker.io (apt-get install docker.io)" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "engine: no Docker engine answers and starting dockerd needs root; start it (sudo dockerd) or run as root" >&2; exit 1; }
    mkdir -p "$STATE"
    setsid dockerd >"$LOG" 2>&1 < /dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq "$WAIT"); do
      if answers; then echo started; exit 0; fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "engine: dockerd exited at start: $(grep -v '^\s*$' "$LOG" | tail -n 1 | cut -c1-240) (full log: $LOG)" >&2
        rm -f "$PIDFILE"; exit 1
      fi
      sleep 1
    done
    echo "engine: dockerd did not answer within ${WAIT}s: $(tail -n 1 "$LOG" | cut -c1-240) (full log: $LOG)" >&2
    "$0" stop; exit 1 ;;
  stop)
    [ -f "$PIDFILE" ] || exit 0
    pid=$(cat "$PIDFILE"); rm -f "$PIDFILE"
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true ;;
  *) echo "usage: engine.sh start|stop" >&2; exit 2 ;;
esac
