#!/usr/bin/env bash
# Stops the services up.sh started, by their recorded PIDs (never by name).
source "$(dirname "$0")/lib.sh"
for name in nginx anvil tansu moto-auth moto redis; do
  pidfile="$RUN_DIR/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name ($pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
done
