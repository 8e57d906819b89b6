#!/bin/bash
# slurm-down.sh - stop the cluster tools/slurm-up.sh started in DIR and
# remove DIR (KEEP_DATA=1 keeps it, with the logs).
#  1. cancel every job of this cluster while slurmctld and the slurmd are
#     still up (a stopping slurmd does not kill running job steps) and wait
#     for them to leave the queue;
#  2. SIGTERM the slurmd, then slurmctld and munged, by the PIDs recorded in
#     DIR/pids/*.pid (never by process name), and only while the process
#     still is the program that was started (PID reuse); SIGKILL after 10 s;
#  3. kill any slurmstepd left over from this cluster (recognised by
#     SLURM_CONF=DIR/slurm.conf in its environment, inherited from our slurmd).
#
# usage: tools/slurm-down.sh DIR        (or SC_SLURM_DIR=DIR tools/slurm-down.sh)
set -u
SLURM_DIR=${1:-${SC_SLURM_DIR:-}}
[ -n "$SLURM_DIR" ] || { echo "usage: tools/slurm-down.sh DIR" >&2; exit 2; }
case "$SLURM_DIR" in /*/*) ;; *) echo "slurm-down: DIR must be an absolute path" >&2; exit 2 ;; esac
P=$SLURM_DIR/pids
CONF=$SLURM_DIR/slurm.conf
if [ ! -d "$P" ]; then
	echo "slurm-down: nothing running in $SLURM_DIR"
	[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$SLURM_DIR"
	exit 0
fi
export SLURM_CONF=$CONF

# "true" when the pid file names a live process that is still the program we started
ours() {
	local comm pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null)
	case "$pid" in '' | *[!0-9]*) rm -f "$1"; return 1 ;; esac
	# the command name, not the executable's path: Debian installs the
	# daemons as slurmctld-wlm and slurmd-wlm behind alternatives links
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || { rm -f "$1"; return 1; }
	case "$comm" in slurmd | slurmctld | munged) return 0 ;; esac
	rm -f "$1"
	return 1
}

# ---- 1. jobs
if ours "$P/slurmctld.pid"; then
	ids=$(squeue -h -o %A 2>/dev/null | sort -u)
	if [ -n "$ids" ]; then
		echo "slurm-down: cancelling jobs:" $ids
		# shellcheck disable=SC2086
		scancel $ids 2>/dev/null
		for _ in $(seq 100); do
			[ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
fi

# ---- 2. daemons: a group at a time (each takes ~2 s to exit after SIGTERM)
stop_group() { # pid files...
	local f pid any pids=() files=()
	for f in "$@"; do ours "$f" && { pids+=("$(cat "$f")"); files+=("$f"); }; done
	[ ${#pids[@]} -eq 0 ] && return 0
	kill -TERM "${pids[@]}" 2>/dev/null
	for _ in $(seq 100); do
		any=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && any=1; done
		[ $any = 0 ] && break
		sleep 0.1
	done
	for f in "${files[@]}"; do
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			echo "slurm-down: $(basename "$f" .pid) ($pid) ignored SIGTERM for 10 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
		echo "slurm-down: stopped $(basename "$f" .pid) ($pid)"
		rm -f "$f"
	done
}
stop_group "$P"/slurmd-*.pid
stop_group "$P/slurmctld.pid" "$P/munged.pid"

# ---- 3. leftover job steps of this cluster (none expected after step 1)
for d in /proc/[0-9]*; do
	[ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ] || continue
	tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "SLURM_CONF=$CONF" || continue
	pid=${d#/proc/}
	echo "slurm-down: killing leftover slurmstepd $pid"
	kill -KILL "$pid" 2>/dev/null
done
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$SLURM_DIR"
exit 0
