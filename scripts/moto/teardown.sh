#!/usr/bin/env bash
# Stops the moto server setup.sh started (and podman's API service in podman mode), by their PID files only, and
# removes its state folder.
state="${MOTO_STATE:-/tmp/clowdr-moto}"
for name in moto podman; do
  [ -s "$state/$name.pid" ] || continue
  pid=$(cat "$state/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
done
rm -rf "$state"
