#!/bin/bash
# ceph-down.sh - stop the cluster tools/ceph-up.sh started in DIR and remove
# DIR. Daemons are stopped by the PIDs recorded in DIR/run/*.pid (never by
# process name), and only while the process still is ours (its command line
# names DIR/ceph.conf), in three groups: radosgw first (it unregisters its
# watches from the OSD), then OSD and mgr, then the mon. A daemon still alive
# 15 s after SIGTERM gets SIGKILL. KEEP_DATA=1 keeps DIR (logs) afterwards.
#
# usage: tools/ceph-down.sh DIR        (or SC_CEPH_DIR=DIR tools/ceph-down.sh)
set -u
CEPH_DIR=${1:-${SC_CEPH_DIR:-}}
[ -n "$CEPH_DIR" ] || { echo "usage: tools/ceph-down.sh DIR" >&2; exit 2; }
case "$CEPH_DIR" in /*/*) ;; *) echo "ceph-down: DIR must be an absolute path" >&2; exit 2 ;; esac
RUN=$CEPH_DIR/run
[ -d "$RUN" ] || { echo "ceph-down: nothing running in $CEPH_DIR"; [ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$CEPH_DIR"; exit 0; }

# "pid name" for each pid file matching $1 whose process is still ours;
# stale pid files are removed
ours() {
	local f pid
	for f in "$RUN"/$1.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		case "$pid" in '' | *[!0-9]*) rm -f "$f"; continue ;; esac
		if [ -r "/proc/$pid/cmdline" ] &&
			tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$CEPH_DIR/ceph.conf"; then
			echo "$pid $(basename "$f" .pid)"
		else
			rm -f "$f"
		fi
	done
}

alive() { # zombies count as dead
	[ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

stop_group() { # "pid name" lines
	local line pid name left
	[ $# -gt 0 ] || return 0
	# SIGCONT first: a test may have stopped a daemon with SIGSTOP
	for line in "$@"; do kill -CONT "${line%% *}" 2>/dev/null; kill -TERM "${line%% *}" 2>/dev/null; done
	for _ in $(seq 1 150); do
		left=0
		for line in "$@"; do alive "${line%% *}" && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for line in "$@"; do
		pid=${line%% *}
		name=${line#* }
		if alive "$pid"; then
			echo "ceph-down: $name ($pid) ignored SIGTERM for 15 s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
		echo "ceph-down: stopped $name (pid $pid)"
		rm -f "$RUN/$name.pid"
	done
}

mapfile -t g < <(ours 'ceph-client.*')
stop_group "${g[@]}"
mapfile -t g < <(ours 'ceph-osd.*'; ours 'ceph-mgr.*')
stop_group "${g[@]}"
mapfile -t g < <(ours '*')
stop_group "${g[@]}"

if [ "${KEEP_DATA:-0}" != 1 ]; then
	rm -rf "$CEPH_DIR"
fi
exit 0
