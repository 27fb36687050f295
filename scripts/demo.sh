#!/usr/bin/env bash
# The demo: an experiment's event log built from a recorded segment (4 participants, one failing), then checked.
# Until `clowdr run` exists this shows the log itself: ingest (twice, to show it is idempotent), status, fsck.
set -euo pipefail
clowdr=${1:-.build/debug/clowdr}
dir=${2:-out/demo}
exp="$dir/2026-11-22_18-27-19-DEMO0001"
rm -rf "$exp"
mkdir -p "$dir"
echo "== ingest the recorded segment into a new experiment log"
"$clowdr" ingest --create "$exp" examples/eventlog-demo/events.ndjson
echo "== ingest it again: nothing changes"
"$clowdr" ingest "$exp" examples/eventlog-demo/events.ndjson
echo "== status (derived by replaying the events)"
"$clowdr" status "$exp"
echo "== fsck: integrity, gapless seqs, append-only triggers, projections rebuilt from the events"
"$clowdr" fsck "$exp"
echo
echo "The experiment log is $exp/clowdr.db"
echo "Look inside: sqlite3 $exp/clowdr.db 'SELECT seq, type, task, attempt FROM events LIMIT 10'"
