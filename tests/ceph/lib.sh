# Helpers sourced by the Ceph tests (tests/ceph/t_*.sh, z_*.sh).
set -eu
die() { echo "FAIL: $*" >&2; exit 1; }

# rgw_pid : the PID of the cluster's radosgw (from its pid file)
rgw_pid() {
	pid=$(cat "$SC_CEPH_RGW_PIDFILE" 2>/dev/null) || die "no radosgw pid file at $SC_CEPH_RGW_PIDFILE"
	case "$pid" in '' | *[!0-9]*) die "bad pid file $SC_CEPH_RGW_PIDFILE" ;; esac
	tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SC_CEPH_DIR/ceph.conf" ||
		die "pid $pid is not this cluster's radosgw"
	echo "$pid"
}

# gateway_answers : true when radosgw answers HTTP within 5 s
gateway_answers() {
	curl -s -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/"
}
