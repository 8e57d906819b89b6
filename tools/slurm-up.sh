#!/bin/bash
# slurm-up.sh - start a throw-away Slurm cluster on this one host, for the
# partitioned-ingest tests (`make test-slurm`, tests/slurm/run.sh) and for
# trying `shardctl ingest --launcher slurm` (docs/TASKS.md): munged,
# slurmctld and several slurmd "nodes" (slurmd -N nX, one port each), all
# on 127.0.0.1. No systemd, no /etc/slurm: configuration, munge key,
# sockets, state, spool, logs and pid files live in one directory.
#
# usage: tools/slurm-up.sh [DIR]        (default: a new /tmp/scs.XXXXXX)
#
# Installs the Debian packages it needs when they are missing (slurmctld
# slurmd slurm-client munge, --no-install-recommends, a few seconds). Writes
# DIR/env.sh, to be sourced (SLURM_CONF, SC_SLURM_DIR), and prints
# "slurm-up: ready: . DIR/env.sh" last. Stop with tools/slurm-down.sh DIR.
# Any failure stops what was started, prints the end of the logs and the
# reason, and exits 1: a cluster that cannot start is never a pass.
#
# Knobs (environment): SC_SLURM_NODES logical nodes (default 3),
# SC_SLURM_CPUS CPUs each advertises (default 1; more than the host has is
# allowed), SC_SLURM_PORT first TCP port (default: the first of 16817,
# 16847, ... with NODES + 1 free ports; the stock 6817/6818 sit inside
# Ceph's range), SC_SLURM_TIMEOUT seconds to wait for the nodes (default 60).
#
# Adapted from a recipe tested on Debian 12 with Slurm 22.05; the pitfalls
# it met are kept as comments where they matter.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PKGS="slurmctld slurmd slurm-client munge"
NNODES=${SC_SLURM_NODES:-3}
CPUS=${SC_SLURM_CPUS:-1}
TIMEOUT=${SC_SLURM_TIMEOUT:-60}
CLUSTER_NAME=slurm-up
CLUSTER_DOWN=$HERE/slurm-down.sh
CLUSTER_DOWN_ENV=KEEP_DATA=1
CLUSTER_LOGS='log/*'
CLUSTER_PIDS='pids/*.pid'
# shellcheck source=tools/lib-cluster.sh
. "$HERE/lib-cluster.sh"

case "$NNODES" in '' | *[!0-9]* | 0) fail "SC_SLURM_NODES must be a positive number" ;; esac
case "$CPUS" in '' | *[!0-9]* | 0) fail "SC_SLURM_CPUS must be a positive number" ;; esac

# ---------------------------------------------------------------- packages
# shellcheck disable=SC2086 # the package list is meant to split
cluster_packages $PKGS
cluster_commands munged mungekey munge unmunge slurmctld slurmd sbatch squeue scontrol scancel sinfo python3

# ---------------------------------------------------------------- directory and ports
cluster_dir /tmp/scs.XXXXXX "$@"  # short: the munge socket lives here
SLURM_DIR=$CLUSTER_DIR
mkdir -p "$SLURM_DIR"/{munge/key,state,spool,log,pids}
for i in $(seq 1 "$NNODES"); do mkdir -p "$SLURM_DIR/spool/n$i"; done
chmod 755 "$SLURM_DIR" "$SLURM_DIR/munge"  # munged: the socket directory must be o+x
chmod 700 "$SLURM_DIR/munge/key"           # munged: the key must not be readable by others

if [ -n "${SC_SLURM_PORT:-}" ]; then
	PORT=$SC_SLURM_PORT
else
	PORT=$(python3 - "$NNODES" <<'PY'
import socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for base in range(16817, 30000, 30):
    if all(free(p) for p in range(base, base + n + 1)):
        print(base)
        break
PY
)
	[ -n "$PORT" ] || fail "no free range of $((NNODES + 1)) TCP ports above 16817"
fi
ME=$(id -un)

# ---------------------------------------------------------------- munge
MSOCK=$SLURM_DIR/munge/munge.socket
mungekey --create --keyfile="$SLURM_DIR/munge/key/munge.key" --bits=1024 ||
	fail "mungekey could not create a key"
munged -F --socket="$MSOCK" --key-file="$SLURM_DIR/munge/key/munge.key" \
	--pid-file="$SLURM_DIR/munge/munged.pid" --seed-file="$SLURM_DIR/munge/munged.seed" \
	--log-file="$SLURM_DIR/log/munged.log" </dev/null >>"$SLURM_DIR/log/munged.out" 2>&1 &
cluster_record_pid "$SLURM_DIR/pids/munged.pid" $!
ok=0
for _ in $(seq 100); do
	if munge -S "$MSOCK" -n 2>/dev/null | unmunge -S "$MSOCK" >/dev/null 2>&1; then ok=1; break; fi
	cluster_alive "$SLURM_DIR/pids/munged.pid" || fail "munged exited at start"
	sleep 0.1
done
[ $ok = 1 ] || fail "munged does not answer on $MSOCK after 10 s"
log "munged up"

# ---------------------------------------------------------------- slurm.conf
CONF=$SLURM_DIR/slurm.conf
SLURMD_PORTS="[$((PORT + 1))-$((PORT + NNODES))]"
[ "$NNODES" -eq 1 ] && SLURMD_PORTS=$((PORT + 1))
NODES="n[1-$NNODES]"
[ "$NNODES" -eq 1 ] && NODES=n1
cat >"$CONF" <<EOF
ClusterName=shardctl
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
# jobs run as this same user (root, or any unprivileged one)
SlurmUser=$ME
SlurmdUser=$ME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MSOCK
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool/%n
SlurmctldPidFile=$SLURM_DIR/state/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/spool/slurmd-%n.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# the default batch_sched_delay=3 adds ~3 s between a job ending and the next starting
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# nodes advertise the configured CPUs even where the host has fewer
SlurmdParameters=config_overrides
# finished jobs stay visible to squeue/scontrol (there is no accounting database)
MinJobAge=600
KillWait=5
NodeName=$NODES NodeHostname=localhost NodeAddr=127.0.0.1 Port=$SLURMD_PORTS CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
cat >"$SLURM_DIR/env.sh" <<EOF
export SLURM_CONF=$CONF
export SC_SLURM_DIR=$SLURM_DIR
EOF
export SLURM_CONF=$CONF

# ---------------------------------------------------------------- daemons
slurmctld -D -i -f "$CONF" </dev/null >>"$SLURM_DIR/log/slurmctld.out" 2>&1 &
cluster_record_pid "$SLURM_DIR/pids/slurmctld.pid" $!
for i in $(seq 1 "$NNODES"); do
	slurmd -D -N "n$i" -f "$CONF" </dev/null >>"$SLURM_DIR/log/slurmd-n$i.out" 2>&1 &
	cluster_record_pid "$SLURM_DIR/pids/slurmd-n$i.pid" $!
done

# ---------------------------------------------------------------- wait for idle nodes
ok=0
for _ in $(seq $((TIMEOUT * 10))); do
	cluster_check_started
	# exactly "idle": not idle* (not responding) nor unk* (never registered)
	idle=$(sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2=="idle"' | sort -u | wc -l || true)
	if [ "$idle" -ge "$NNODES" ]; then ok=1; break; fi
	sleep 0.1
done
[ $ok = 1 ] || fail "the nodes are not idle after ${TIMEOUT}s: $(sinfo -N 2>&1 | tr '\n' ' ')"
log "$NNODES node(s) idle, slurmctld on 127.0.0.1:$PORT"
echo "slurm-up: ready: . $SLURM_DIR/env.sh"
