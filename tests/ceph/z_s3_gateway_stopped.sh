# A stopped gateway (radosgw gone, connections refused) gives a clear error
# naming the object and the endpoint within a bounded time. Runs last: it
# leaves the cluster without its gateway.
. "$TESTS_DIR/lib.sh"
pid=$(rgw_pid)
kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; sleep 0.5; }
gateway_answers && die "radosgw still answers after it was stopped"
"$CEPH_BIN_DIR/s3_smoke" down 10
