#!/usr/bin/env bash
# Stops the test cluster scripts/slurm/setup.sh started: its jobs, then each daemon by its PID file (checking the
# PID is still that daemon: never by name).
S="${SLURM_STATE:-/var/lib/clowdr-slurm}"
pids=""
stop() {  # stop NAME PIDFILE COMM
  local pid
  [ -s "$2" ] || return 0
  pid=$(cat "$2")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$3" ]; then
    kill -TERM "$pid" && pids="$pids $pid"
  fi
  rm -f "$2"
}
wait_stopped() {  # up to 30 s, then SIGKILL the same pids
  for _ in $(seq 1 300); do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && { pids=""; return 0; }
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  pids=""
}
if [ -s "$S/slurmctld.pid" ] && scontrol ping >/dev/null 2>&1; then
  ids=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
  if [ -n "${ids// }" ]; then
    scancel $ids 2>/dev/null
    # Until the cancelled jobs have left the queue (up to 30 s): a slurmctld stopped while they complete saves them as
    # still holding the node's CPUs, and the next start finds the node MIXED with an empty queue.
    for _ in $(seq 1 150); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi
stop slurmd "$S/slurmd.pid" slurmd
stop slurmctld "$S/slurmctld.pid" slurmctld
wait_stopped
stop slurmdbd "$S/slurmdbd.pid" slurmdbd
# MariaDB may stay up across a restart (setup.sh does that): it takes seconds to stop and start.
[ "${SLURM_KEEP_DB:-0}" = 1 ] || stop mariadbd /run/mysqld/mariadbd.pid mariadbd
stop munged "$S/munged.pid" munged
wait_stopped
exit 0
