# Reading a set on S3 nodes with the gateway stopped (connections refused)
# and a cold cache fails within a bounded time with a message naming the
# object and the cause. The set was ingested by t_set_s3 (into the
# cluster's directory); radosgw is stopped here unless z_s3_gateway_stopped
# already did.
. "$TESTS_DIR/lib.sh"
set_root=$SC_CEPH_DIR/sets/stop.set
[ -f "$set_root/manifest.json" ] || die "no set at $set_root (t_set_s3 makes it)"
if pid=$(cat "$SC_CEPH_RGW_PIDFILE" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
	pid=$(rgw_pid)
	kill -TERM "$pid"
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; sleep 0.5; }
fi
gateway_answers && die "radosgw still answers after it was stopped"
start=$(date +%s)
rc=0; timeout 60 "$SHARDCTL" cat "$set_root" --cache-dir cache > /dev/null 2> err || rc=$?
secs=$(( $(date +%s) - start ))
cat err
[ $rc -ne 0 ] && [ $rc -ne 124 ] || die "cat: exit $rc"
[ $secs -le 20 ] || die "cat took ${secs}s to fail"
grep -q "s3://$SC_S3_BUCKET/stop" err || die "the object is not named"
grep -q "cannot connect" err || die "the cause is not said"
echo "failed in ${secs}s, as it should"
