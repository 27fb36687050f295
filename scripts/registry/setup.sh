#!/usr/bin/env bash
# A container registry on 127.0.0.1 (Debian's docker-registry, installed when missing), for the test that pushes
# the image `clowdr cloud image` builds. Plain HTTP, storage in its state folder; stopped by teardown.sh (by PID
# file). Rerunnable: it stops what an earlier run started first.
#
#   REGISTRY_PORT=5001                    the port on 127.0.0.1
#   REGISTRY_STATE=/tmp/clowdr-registry   PID file, log, storage, address
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${REGISTRY_PORT:-5001}"
state="${REGISTRY_STATE:-/tmp/clowdr-registry}"
if ! command -v docker-registry >/dev/null; then
  echo "installing docker-registry (a registry on 127.0.0.1 for the image push test)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
REGISTRY_STATE="$state" "$here/teardown.sh" >/dev/null 2>&1 || true
mkdir -p "$state/storage"
cat > "$state/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/storage
http:
  addr: 127.0.0.1:$port
YML
nohup docker-registry serve "$state/config.yml" > "$state/registry.log" 2>&1 &
echo $! > "$state/registry.pid"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/v2/" >/dev/null || { echo "the registry did not start: $state/registry.log" >&2; exit 1; }
echo "127.0.0.1:$port" > "$state/address"
echo "registry on http://127.0.0.1:$port (pid $(cat "$state/registry.pid"))"
