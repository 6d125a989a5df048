#!/usr/bin/env bash
# A single-node Slurm cluster on localhost for the slurm platform's tests (and for trying the
# platform on a workstation): munged, slurmctld and slurmd run without systemd or cgroups.
#
# Usage:
#   bash scripts/ci/slurm-local.sh start   # install (if needed), configure, start; idempotent
#   bash scripts/ci/slurm-local.sh smoke   # sbatch/squeue/scontrol/scancel round trip
#   bash scripts/ci/slurm-local.sh stop    # cancel its jobs, stop only the daemons "start" started
#   bash scripts/ci/slurm-local.sh status  # exit 0 when the cluster "start" started is up
#   bash scripts/ci/slurm-local.sh env     # print the SLURM_CONF line clients need
#
# The configuration lives in the state dir, never in /etc/slurm, so an existing Slurm install is
# left alone; clients (sbatch, squeue, the tao_automl slurm platform) find it through SLURM_CONF.
# Tested on Debian 12 (slurm-wlm 22.05.8, munge 0.5.15) as root, on a machine without systemd.
#
# Env knobs:
#   TAO_SLURM_STATE_DIR  pid/log/state/config dir (default /tmp/tao-automl-slurm)
#   TAO_SLURM_CTLD_PORT / TAO_SLURM_D_PORT  daemon ports (default 6817 / 6818)
#   TAO_SLURM_WITH_DBD=1 also install MariaDB + slurmdbd so that `sacct` works (slower)
set -euo pipefail

STATE=${TAO_SLURM_STATE_DIR:-/tmp/tao-automl-slurm}
export SLURM_CONF=$STATE/slurm.conf
NODE=localhost
WITH_DBD=${TAO_SLURM_WITH_DBD:-0}

log() { echo "[slurm-local] $*" >&2; }

# True when the pid in file $1 is alive and is the program named $2 (pids get reused).
ours_alive() {
  local pid
  [ -s "$STATE/$1" ] || return 1
  pid=$(cat "$STATE/$1")
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

node_ready() { sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

install_pkgs() {
  local pkgs="slurmctld slurmd slurm-client munge"
  [ "$WITH_DBD" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
  local missing=0
  for tool in slurmctld slurmd sbatch munged; do command -v "$tool" >/dev/null || missing=1; done
  [ "$WITH_DBD" = 1 ] && ! command -v slurmdbd >/dev/null && missing=1
  [ "$missing" = 1 ] || return 0
  log "installing $pkgs (first time only)"
  apt-get update -qq
  # No systemd: the packages' postinst scripts cannot start services, which is what we want.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

write_conf() {
  mkdir -p "$STATE/ctld" "$STATE/spool"
  # slurmctld drops to SlurmUser: everything it writes must belong to that user.
  chown slurm:slurm "$STATE" "$STATE/ctld"
  chmod 0755 "$STATE"
  local cpus mem_mb acct
  cpus=$(nproc)
  mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
  if [ "$WITH_DBD" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
  else
    acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  cat >"$SLURM_CONF.tmp" <<EOF
# written by tao-automl scripts/ci/slurm-local.sh
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort=${TAO_SLURM_CTLD_PORT:-6817}
SlurmdPort=${TAO_SLURM_D_PORT:-6818}
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups, no systemd. linuxproc tracks a job's whole process tree, so scancel ends grandchildren.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
$acct
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
# Finished jobs stay visible to scontrol for 5 minutes; a cancelled job gets SIGKILL 10 s after SIGTERM.
MinJobAge=300
SchedulerParameters=batch_sched_delay=0
KillWait=10
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$SLURM_CONF.tmp" "$SLURM_CONF"
  chmod 0644 "$SLURM_CONF"
}

start_munge() {
  if munge -n >/dev/null 2>&1; then
    return 0 # a munged is already running (ours from an earlier start, or the machine's): use it
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null
  cat /run/munge/munged.pid >"$STATE/munged.pid"
}

start_dbd() {
  [ "$WITH_DBD" = 1 ] || return 0
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if ! mysqladmin ping >/dev/null 2>&1; then
    (mysqld_safe --user=mysql >"$STATE/mysqld.log" 2>&1 &)
    for _ in $(seq 100); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.2; done
    touch "$STATE/mysqld.started"
  fi
  mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >"$STATE/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chown slurm:slurm "$STATE/slurmdbd.conf"
  chmod 600 "$STATE/slurmdbd.conf"
  ours_alive slurmdbd.pid slurmdbd || SLURM_CONF=$SLURM_CONF slurmdbd -f "$STATE/slurmdbd.conf"
  for _ in $(seq 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
  sacctmgr -i add cluster local >/dev/null 2>&1 || true
}

wait_node() {
  local d=$1
  for _ in $(seq 150); do
    kill -0 "$d" 2>/dev/null || { log "slurmd died:"; tail -5 "$STATE/slurmd.out" >&2; exit 1; }
    node_ready && return 0
    sleep 0.2
  done
  log "node never became idle:"; sinfo -N >&2 || true; exit 1
}

start() {
  if ours_alive slurmctld.bgpid slurmctld && ours_alive slurmd.bgpid slurmd && node_ready; then
    log "already running (state in $STATE)"
    return 0
  fi
  stop_daemons # leftovers of a half-started cluster
  install_pkgs
  write_conf
  start_munge
  start_dbd
  # -D: foreground (backgrounded here, so we keep their pids); -c: discard old job state.
  slurmctld -D -c -f "$SLURM_CONF" >"$STATE/slurmctld.out" 2>&1 &
  local ctl=$!
  echo "$ctl" >"$STATE/slurmctld.bgpid"
  for _ in $(seq 100); do
    kill -0 "$ctl" 2>/dev/null || { log "slurmctld died:"; tail -5 "$STATE/slurmctld.out" >&2; exit 1; }
    scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.2
  done
  slurmd -D -N "$NODE" -f "$SLURM_CONF" >"$STATE/slurmd.out" 2>&1 &
  local d=$!
  echo "$d" >"$STATE/slurmd.bgpid"
  wait_node "$d"
  scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
  sinfo >&2
  log "started (state in $STATE); clients need: export SLURM_CONF=$SLURM_CONF"
}

stop_pid() {
  local file=$1 name=$2 pid
  if ours_alive "$file" "$name"; then
    pid=$(cat "$STATE/$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true # slurmd can sit in a retry sleep
  fi
  rm -f "$STATE/$file"
}

stop_daemons() {
  stop_pid slurmd.bgpid slurmd
  stop_pid slurmctld.bgpid slurmctld
  stop_pid slurmdbd.pid slurmdbd
  stop_pid munged.pid munged
  if [ -e "$STATE/mysqld.started" ]; then
    mysqladmin shutdown 2>/dev/null || true
    rm -f "$STATE/mysqld.started"
  fi
}

stop() {
  # Every job of this private cluster is ours: end them before slurmd goes, or their slurmstepd
  # processes would outlive it.
  if ours_alive slurmctld.bgpid slurmctld; then
    local jobs
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      # shellcheck disable=SC2086 # one job id per word
      scancel $jobs 2>/dev/null || true
      for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  stop_daemons
  log "stopped"
}

job_state() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

smoke() {
  local jid jid2 st=""
  jid=$(sbatch --parsable -o "$STATE/smoke-%j.out" --wrap 'echo hi from $SLURM_JOB_ID on $(hostname)')
  log "submitted $jid"
  for _ in $(seq 100); do
    st=$(job_state "$jid")
    [ "$st" = COMPLETED ] && break
    sleep 0.2
  done
  [ "$st" = COMPLETED ] || { log "job $jid ended as $st"; return 1; }
  cat "$STATE/smoke-$jid.out"
  jid2=$(sbatch --parsable -o /dev/null --wrap 'sleep 300')
  sleep 1
  squeue -j "$jid2"
  scancel "$jid2"
  for _ in $(seq 50); do
    st=$(job_state "$jid2")
    [ "$st" = CANCELLED ] && break
    sleep 0.2
  done
  log "job $jid2 state after scancel: $st"
  [ "$st" = CANCELLED ]
  if [ "$WITH_DBD" = 1 ]; then sleep 2; sacct -j "$jid,$jid2" -o JobID,State,ExitCode; fi
  log "smoke OK"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  smoke) smoke ;;
  status) ours_alive slurmctld.bgpid slurmctld && ours_alive slurmd.bgpid slurmd && node_ready ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  *) echo "usage: $0 start|smoke|stop|status|env" >&2; exit 2 ;;
esac
