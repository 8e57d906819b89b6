# Helpers sourced by the Ceph tests (tests/ceph/t_*.sh, z_*.sh).
set -eu
# Object keys: each test keeps its objects under a prefix of its own
# (P=...); SC_S3_TEST_PREFIX (SC_ROOT_S3_PREFIX, the whole prefix, for
# t_root_s3.sh) sets its first part, for a cluster that others share.
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

# s3curl ARGS... : curl signed for the cluster (SigV4, unsigned payload)
s3curl() {
	curl -s --fail-with-body --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# list_keys PREFIX : the keys under PREFIX in $B, one a line (ListObjectsV2,
# one page of 1000: a test's sets are smaller; a longer listing fails)
list_keys() {
	s3curl "$AWS_ENDPOINT_URL/$B?list-type=2&max-keys=1000&prefix=$(printf %s "$1" | sed 's|/|%2F|g')" \
		> list.xml || { cat list.xml >&2; return 1; }
	grep -q '<ListBucketResult' list.xml || { cat list.xml >&2; return 1; }
	! grep -q '<IsTruncated>true' list.xml || { echo "listing truncated" >&2; return 1; }
	grep -o '<Key>[^<]*</Key>' list.xml | sed 's/<Key>//; s/<\/Key>//'
}

# no_keys PREFIX : die unless the listing works and shows nothing under PREFIX
no_keys() {
	k=$(list_keys "$1") || die "listing '$1' failed"
	[ -z "$k" ] || die "objects under '$1': $k"
}

# delete_prefix PREFIX : delete every object under PREFIX (best effort, for
# the clean-up a test traps on exit)
delete_prefix() {
	for k in $(list_keys "$1" 2> /dev/null); do
		s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/$k" > /dev/null 2>&1 || true
	done
}

# make_jsonl FILE N : N distinct JSONL records with some repeats
make_jsonl() {
	awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "{\"text\":\"record %d of the ceph set tests, %s\",\"id\":%d}\n", i % (n - n / 10), substr("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor", 1 + i % 40), i }' > "$1"
}

# replica_of SET SHARD R : "NODE_PATH SHARD_NAME" of replica R of shard SHARD
replica_of() {
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); s=m["shards"][int(sys.argv[2])]; print(m["nodes"][s["replicas"][int(sys.argv[3])]]["path"], s["name"])' "$1" "$2" "$3"
}

# need_fault_shim : FAULT_SO = the fault injection shim (fault/inject.so
# next to $SHARDCTL, or SC_FAULT_SO); these suites fail without it
need_fault_shim() {
	FAULT_SO=${SC_FAULT_SO:-$(dirname "$SHARDCTL")/fault/inject.so}
	[ -f "$FAULT_SO" ] || die "no fault shim at '$FAULT_SO' (make BUILD=... BUILD/fault/inject.so, or set SC_FAULT_SO)"
}
