#!/usr/bin/env bash
# Stops the registry setup.sh started, by its PID file only, and removes its state folder (storage included).
state="${REGISTRY_STATE:-/tmp/clowdr-registry}"
if [ -s "$state/registry.pid" ]; then
  pid=$(cat "$state/registry.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
fi
rm -rf "$state"
