# A frozen gateway (SIGSTOP: connections are accepted by the kernel, nothing
# answers) gives a timeout error naming the object within a bounded time,
# and the client works again once the gateway does.
. "$TESTS_DIR/lib.sh"
pid=$(rgw_pid)
kill -STOP "$pid"
trap 'kill -CONT "$pid" 2>/dev/null || true' EXIT
"$CEPH_BIN_DIR/s3_smoke" hung 20
kill -CONT "$pid"
for _ in $(seq 1 50); do gateway_answers && break; sleep 0.2; done
gateway_answers || die "radosgw does not answer again after SIGCONT"
echo "gateway answers again after SIGCONT"
