#!/usr/bin/env bash
# A real one-node Slurm cluster on localhost for clowdr's Slurm tests: installs Debian's slurm-wlm and munge (and
# slurmdbd with MariaDB, so that sacct has MaxRSS) when missing, writes /etc/slurm/, starts every daemon and waits
# until the node is idle. Run as root. Stop it with teardown.sh (by PID file). Rerunnable: it stops what an earlier
# run started first.
#
#   SLURM_DBD=1 (default)   accounting through slurmdbd; SLURM_DBD=0: accounting_storage/none (sacct unavailable)
#   SLURM_MAX_ARRAY=N       MaxArraySize (default 10001)
#   SLURM_ENFORCE=limits    AccountingStorageEnforce (default: unset; limits needs SLURM_DBD=1)
#   SLURM_STATE=DIR         state, logs and PID files (default /var/lib/clowdr-slurm)
set -euo pipefail
# The daemons' temporary files go to /tmp, never to a caller's TMPDIR (a test run's folder, which mariadbd, running
# as mysql, cannot write: it then refuses to start).
export TMPDIR=/tmp
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S="${SLURM_STATE:-/var/lib/clowdr-slurm}"
DBD="${SLURM_DBD:-1}"
until_ok() {  # until_ok SECONDS COMMAND...: every 0.2 s until it succeeds
  local n=$(($1 * 5)); shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

packages="slurm-wlm munge"
[ "$DBD" = 1 ] && packages="$packages slurmdbd mariadb-server"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing$missing (a real Slurm on localhost for the Slurm backend's tests)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

SLURM_STATE="$S" SLURM_KEEP_DB=1 "$here/teardown.sh" >/dev/null 2>&1 || true
mkdir -p "$S/slurmctld" "$S/slurmd" "$S/log" /etc/slurm

# munge: its key (the package makes one; make it if absent), then the daemon with its PID file in $S.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 600 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
touch "$S/munged.pid" && chown munge "$S/munged.pid"
su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=$S/munged.pid"
until_ok 10 sh -c 'munge -n | unmunge' || { echo "munged did not start" >&2; exit 1; }

# At least 8 CPUs, whatever the machine has (config_overrides): the tests' tasks mostly sleep, and a throttle or a
# long TIMEOUT case needs room beside the others on a 2-core CI machine.
cpus=$(nproc)
[ "$cpus" -ge 8 ] || cpus=8
mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
mem=$((mem * 9 / 10))  # a little below the real size, or the node is drained
acct=accounting_storage/none
[ "$DBD" = 1 ] && acct=accounting_storage/slurmdbd
sed -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" -e "s|@STATE@|$S|g" -e "s|@ACCT_TYPE@|$acct|g" \
  -e "s|@MAX_ARRAY@|${SLURM_MAX_ARRAY:-10001}|g" -e "s|@ENFORCE_LINE@|${SLURM_ENFORCE:+AccountingStorageEnforce=$SLURM_ENFORCE}|g" \
  "$here/slurm.conf.in" > /etc/slurm/slurm.conf

if [ "$DBD" = 1 ]; then
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  pid=$(cat /run/mysqld/mariadbd.pid 2>/dev/null || true)
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd ] || nohup /usr/sbin/mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/mariadbd.pid --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 > "$S/log/mariadbd.log" 2>&1 &
  until_ok 60 mariadb-admin --socket=/run/mysqld/mysqld.sock ping || { echo "MariaDB did not start" >&2; exit 1; }
  mariadb --socket=/run/mysqld/mysqld.sock -e "
    CREATE DATABASE IF NOT EXISTS clowdr_slurm_acct;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON clowdr_slurm_acct.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  sed -e "s|@STATE@|$S|g" "$here/slurmdbd.conf.in" > /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
  /usr/sbin/slurmdbd
  until_ok 60 bash -c "(exec 3<>/dev/tcp/127.0.0.1/6819) 2>/dev/null" || { echo "slurmdbd did not start: $S/log/slurmdbd.log" >&2; exit 1; }
fi

/usr/sbin/slurmctld
until_ok 30 scontrol ping || { echo "slurmctld did not answer: $S/log/slurmctld.log" >&2; exit 1; }
/usr/sbin/slurmd -N localhost
idle() { sinfo -h -N -n localhost -o '%T' | grep -qx idle; }
if ! until_ok 60 idle; then
  scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
  # A node MIXED or ALLOCATED with an empty queue holds CPUs for jobs that ended while no slurmctld ran: DOWN then
  # RESUME frees them (nothing runs on it to be killed).
  if [ -z "$(squeue -h -o %A 2>/dev/null)" ] && ! idle; then
    scontrol update NodeName=localhost State=DOWN Reason="clowdr setup: stale allocation" >/dev/null 2>&1 || true
    scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
  fi
  until_ok 30 idle || {
    echo "the node is not idle ($(sinfo -h -N -n localhost -o '%T: %E' 2>&1); jobs: $(squeue -h -o '%i %T %r' 2>&1 | head -5 | tr '\n' ';')): $S/log/slurmd.log" >&2
    tail -5 "$S/log/slurmd.log" >&2 2>/dev/null
    exit 1
  }
fi
if [ "$DBD" = 1 ]; then
  until_ok 30 sh -c 'sacctmgr -n -P show cluster format=cluster | grep -qx clowdrtest' || { echo "cluster not in slurmdbd" >&2; exit 1; }
fi
echo "slurm ready (accounting: $acct, MaxArraySize ${SLURM_MAX_ARRAY:-10001})"
