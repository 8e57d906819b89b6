# lib-cluster.sh - what tools/ceph-up.sh and tools/slurm-up.sh share, sourced
# by both (bash, after `set -euo pipefail`): the log and fail helpers, the
# check and install of Debian packages, the state directory, and the pid
# bookkeeping of daemons started in the background.
#
# The sourcing script sets, before calling anything here:
#   CLUSTER_NAME      its name in messages ("ceph-up", "slurm-up")
#   CLUSTER_DOWN      the script that stops what was started, given the directory
#   CLUSTER_DOWN_ENV  assignments for it (e.g. "KEEP_DATA=1"), may be empty
#   CLUSTER_LOGS      glob, under the directory, of the logs whose ends fail() shows
#   CLUSTER_PIDS      glob, under the directory, of the pid files of running daemons
# cluster_dir sets CLUSTER_DIR, the state directory; fail() only stops
# (CLUSTER_DOWN) and shows logs once it is set.

CLUSTER_T0=$(date +%s.%N)
CLUSTER_DIR=

# log MSG...: "NAME: [seconds since start] MSG" on stdout
log() {
	printf '%s: [%6.2fs] %s\n' "$CLUSTER_NAME" \
		"$(awk -v a="$(date +%s.%N)" -v b="$CLUSTER_T0" 'BEGIN{print a-b}')" "$*"
}

# fail MSG...: the end of the logs, stop whatever started, the reason last; exit 1
fail() {
	local f
	if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR/log" ]; then
		for f in "$CLUSTER_DIR"/$CLUSTER_LOGS; do
			[ -s "$f" ] || continue
			echo "---- last lines of $f" >&2
			tail -n 5 "$f" | cut -c1-300 >&2
		done
		# shellcheck disable=SC2086 # the assignments are meant to split
		env $CLUSTER_DOWN_ENV "$CLUSTER_DOWN" "$CLUSTER_DIR" >&2 || true
	fi
	echo "$CLUSTER_NAME: FAILED: $*" >&2
	exit 1
}

# cluster_packages PKG...: install those of the Debian packages that are
# missing (apt-get, --no-install-recommends, through sudo when not root);
# sets CLUSTER_MISSING to what was installed (" a b", or empty)
cluster_packages() {
	local p sudo=""
	CLUSTER_MISSING=""
	for p in "$@"; do
		case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
		*" installed") ;;
		*) CLUSTER_MISSING="$CLUSTER_MISSING $p" ;;
		esac
	done
	[ -n "$CLUSTER_MISSING" ] || return 0
	command -v apt-get >/dev/null ||
		fail "missing packages:$CLUSTER_MISSING, and no apt-get to install them"
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "missing packages:$CLUSTER_MISSING; not root and no sudo"
		sudo=sudo
	fi
	log "installing:$CLUSTER_MISSING"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
		fail "'apt-get update' failed (network or apt sources?)"
	# shellcheck disable=SC2086 # the package list is meant to split
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$CLUSTER_MISSING >/dev/null || fail "'apt-get install$CLUSTER_MISSING' failed"
	log "installed:$CLUSTER_MISSING"
}

# cluster_commands CMD...: each must be in PATH
cluster_commands() {
	local b
	for b in "$@"; do
		command -v "$b" >/dev/null ||
			fail "'$b' not found${CLUSTER_MISSING:+ after installing$CLUSTER_MISSING}"
	done
}

# cluster_dir TEMPLATE [DIR]: the state directory, CLUSTER_DIR: DIR (an
# absolute path two levels deep, emptied first, refused while it holds pid
# files of a cluster), else a new one made by mktemp -d TEMPLATE
cluster_dir() {
	if [ $# -lt 2 ]; then
		CLUSTER_DIR=$(mktemp -d "$1")
		return 0
	fi
	case "$2" in
	/*/*) ;;
	*) echo "$CLUSTER_NAME: DIR must be an absolute path two levels deep" >&2; exit 1 ;;
	esac
	# shellcheck disable=SC2086 # the glob is meant to expand
	if ls "$2"/$CLUSTER_PIDS >/dev/null 2>&1; then
		echo "$CLUSTER_NAME: $2 has pid files: run tools/$(basename "$CLUSTER_DOWN") $2 first" >&2
		exit 1
	fi
	rm -rf "$2"
	mkdir -p "$2"
	CLUSTER_DIR=$2
}

# cluster_alive PIDFILE: the process it names runs
cluster_alive() {
	[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# cluster_record_pid PIDFILE PID: note a daemon started in the background
cluster_record_pid() {
	echo "$2" >"$1"
}

# cluster_check_started: fail when a daemon of CLUSTER_PIDS has exited
cluster_check_started() {
	local f
	for f in "$CLUSTER_DIR"/$CLUSTER_PIDS; do
		[ -e "$f" ] || continue
		cluster_alive "$f" || fail "$(basename "$f" .pid) exited at start"
	done
}
