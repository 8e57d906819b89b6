# A frozen gateway (SIGSTOP: connections are accepted by the kernel, nothing
# answers) gives a timeout error naming the object within a bounded time,
# and the client works again once the gateway does.
# With AWS_MAX_ATTEMPTS=1 a cold read of a set fails after one attempt's
# low-speed timeout (15 s) instead of the whole retry window.
. "$TESTS_DIR/lib.sh"
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-frozen$$
make_jsonl in.jsonl 300
"$SHARDCTL" ingest --quiet --out set --node "s3://$B/$P" --frame-size 4K --shard-size 16K in.jsonl
pid=$(rgw_pid)
trap 'kill -CONT "$pid" 2>/dev/null || true; delete_prefix "$P/"' EXIT
kill -STOP "$pid"
"$CEPH_BIN_DIR/s3_smoke" hung 20
start=$(date +%s)
rc=0
AWS_MAX_ATTEMPTS=1 timeout 120 "$SHARDCTL" cat set --cache-dir cache > /dev/null 2> cat.err || rc=$?
secs=$(( $(date +%s) - start ))
[ $rc -eq 1 ] || { cat cat.err; die "cat with a frozen gateway: exit $rc, expected 1"; }
[ $secs -le 45 ] || die "cat with a frozen gateway and AWS_MAX_ATTEMPTS=1 took ${secs}s"
grep -q "s3://$B/$P/" cat.err && grep -qi "timed out" cat.err ||
	{ cat cat.err; die "the error does not name the object and the timeout"; }
echo "frozen gateway, AWS_MAX_ATTEMPTS=1: cat failed in ${secs}s: $(head -c 300 cat.err)"
kill -CONT "$pid"
for _ in $(seq 1 50); do gateway_answers && break; sleep 0.2; done
gateway_answers || die "radosgw does not answer again after SIGCONT"
echo "gateway answers again after SIGCONT"
"$SHARDCTL" cat set --cache-dir cache | cmp - <("$SHARDCTL" cat set --cache-dir cache2) ||
	die "cat differs after the gateway came back"
[ "$("$SHARDCTL" cat set --cache-dir cache | wc -l)" -gt 0 ] || die "empty set after SIGCONT"
