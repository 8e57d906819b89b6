#!/bin/bash
# ceph-up.sh - start a throw-away single-host Ceph cluster with its S3 gateway
# (radosgw) on 127.0.0.1, for the S3 tests and benchmarks (tests/ceph/run.sh,
# tools/bench-s3.py). No systemd, cephadm or docker: one mon, one mgr, one
# memstore OSD and radosgw, all state (conf, keys, data, logs, pid files,
# sockets) in one short directory; nothing under /etc/ceph or /var/lib/ceph.
#
# usage: tools/ceph-up.sh [DIR]        (default: a new /tmp/scc.XXXXXX)
#
# Installs the Debian packages it needs when they are missing (ceph-mon
# ceph-osd ceph-mgr radosgw ceph-common curl, --no-install-recommends; about
# 260 MB the first time). Then creates an S3 user with fresh random keys and
# a bucket, and writes DIR/s3.env, to be sourced:
#
#   AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL
#   SC_S3_BUCKET SC_CEPH_DIR SC_CEPH_RGW_PIDFILE
#
# Prints "ceph-up: ready: . DIR/s3.env" last. Stop with tools/ceph-down.sh DIR.
# Any failure stops what was started, prints the reason and the end of the
# relevant log, and exits 1: a cluster that cannot start is never a pass.
#
# Knobs (environment): SC_CEPH_OSD_BYTES memstore capacity (default 3G; RAM
# is only used as objects are written; keep it well above what is written:
# the full-ratio guard lags), SC_CEPH_RGW_PORT (default: a free port),
# SC_CEPH_BUCKET (default shardctl-test), SC_CEPH_TIMEOUT seconds to wait for
# each stage (default 120).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PKGS="ceph-mon ceph-osd ceph-mgr radosgw ceph-common curl"
OSD_BYTES=${SC_CEPH_OSD_BYTES:-3G}
BUCKET=${SC_CEPH_BUCKET:-shardctl-test}
TIMEOUT=${SC_CEPH_TIMEOUT:-120}
IP=127.0.0.1
CLUSTER_NAME=ceph-up
CLUSTER_DOWN=$HERE/ceph-down.sh
CLUSTER_DOWN_ENV=
CLUSTER_LOGS='log/*.log'
CLUSTER_PIDS='run/*.pid'
# shellcheck source=tools/lib-cluster.sh
. "$HERE/lib-cluster.sh"

# ---------------------------------------------------------------- packages
# shellcheck disable=SC2086 # the package list is meant to split
cluster_packages $PKGS
cluster_commands ceph-mon ceph-osd ceph-mgr radosgw radosgw-admin ceph ceph-authtool monmaptool curl python3

# ---------------------------------------------------------------- directory and ports
cluster_dir /tmp/scc.XXXXXX "$@"   # short: Unix socket paths live here
CEPH_DIR=$CLUSTER_DIR
[ ${#CEPH_DIR} -le 40 ] || fail "DIR '$CEPH_DIR' is too long for Ceph's admin sockets (40 bytes at most)"
mkdir -p "$CEPH_DIR"/{run,log,crash,mon,mgr,osd,rgw}
CONF=$CEPH_DIR/ceph.conf
ADMIN_KEYRING=$CEPH_DIR/keyring
CEPH="timeout 60 ceph -c $CONF"

# free TCP ports on 127.0.0.1 (other clusters may run on this machine)
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r MON_PORT MON_PORT_V1 RGW_FREE < <(free_ports 3)
RGW_PORT=${SC_CEPH_RGW_PORT:-$RGW_FREE}

case "$OSD_BYTES" in
*G) OSD_BYTES_N=$(( ${OSD_BYTES%G} * 1024 * 1024 * 1024 )) ;;
*M) OSD_BYTES_N=$(( ${OSD_BYTES%M} * 1024 * 1024 )) ;;
*) OSD_BYTES_N=$OSD_BYTES ;;
esac
FSID=$(cat /proc/sys/kernel/random/uuid)

# ---------------------------------------------------------------- ceph.conf
cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:$IP:$MON_PORT,v1:$IP:$MON_PORT_V1]
public addr = $IP
cluster addr = $IP
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $CEPH_DIR/run
pid file = $CEPH_DIR/run/\$cluster-\$name.pid
log file = $CEPH_DIR/log/\$cluster-\$name.log
mon cluster log file = $CEPH_DIR/log/\$cluster.log
crash dir = $CEPH_DIR/crash
# one host, one OSD: replicate across OSDs, allow size-1 pools
osd crush chooseleaf type = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
mgr stats period = 1
mon mgr digest period = 1

[mon]
mon data = $CEPH_DIR/mon/\$cluster-\$id
keyring = \$mon_data/keyring
paxos propose interval = 0.1

[mgr]
mgr data = $CEPH_DIR/mgr/\$cluster-\$id
keyring = \$mgr_data/keyring
mgr initial modules = iostat

[osd]
osd data = $CEPH_DIR/osd/\$cluster-\$id
keyring = \$osd_data/keyring
osd objectstore = memstore
memstore device bytes = $OSD_BYTES_N
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2

[client]
keyring = $ADMIN_KEYRING
# fail (ETIMEDOUT) instead of blocking forever, e.g. when the OSD is full
rados osd op timeout = 60
rados mon op timeout = 60

[client.rgw.gw]
keyring = $CEPH_DIR/rgw.keyring
rgw frontends = beast endpoint=$IP:$RGW_PORT
rgw data = $CEPH_DIR/rgw
rgw thread pool size = 64
# overwritten and deleted data is freed by rgw's garbage collector, by
# default after 2 h: far too late for a memstore OSD sized for a test run
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw gc processor max time = 5
EOF

# ---------------------------------------------------------------- mon
ceph-authtool "$ADMIN_KEYRING" --create-keyring --gen-key -n client.admin \
	--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null ||
	fail "ceph-authtool (admin key) failed"
ceph-authtool "$CEPH_DIR/mon.keyring" --create-keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null ||
	fail "ceph-authtool (mon key) failed"
ceph-authtool "$CEPH_DIR/mon.keyring" --import-keyring "$ADMIN_KEYRING" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:$IP:$MON_PORT,v1:$IP:$MON_PORT_V1]" "$CEPH_DIR/monmap" >/dev/null ||
	fail "monmaptool failed"
ceph-mon -c "$CONF" -i a --mkfs --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring" \
	> "$CEPH_DIR/log/mkfs-mon.log" 2>&1 || fail "ceph-mon --mkfs failed"
ceph-mon -c "$CONF" -i a 2>> "$CEPH_DIR/log/start-mon.log" || fail "ceph-mon did not start"
$CEPH mon enable-msgr2 >/dev/null 2>&1 || true
$CEPH config set mon auth_allow_insecure_global_id_reclaim false >/dev/null 2>&1 ||
	fail "the mon does not answer on $IP:$MON_PORT"
log "mon up on $IP:$MON_PORT"

# ---------------------------------------------------------------- mgr
mkdir -p "$CEPH_DIR/mgr/ceph-x"
$CEPH auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
	-o "$CEPH_DIR/mgr/ceph-x/keyring" >/dev/null 2>&1 || fail "mgr key creation failed"
ceph-mgr -c "$CONF" -i x 2>> "$CEPH_DIR/log/start-mgr.log" || fail "ceph-mgr did not start"

# ---------------------------------------------------------------- osd (memstore)
uuid=$(cat /proc/sys/kernel/random/uuid)
secret=$(ceph-authtool --gen-print-key)
id=$(echo "{\"cephx_secret\": \"$secret\"}" | $CEPH osd new "$uuid" -i - 2>/dev/null) || fail "'ceph osd new' failed"
mkdir -p "$CEPH_DIR/osd/ceph-$id"
printf '[osd.%s]\n\tkey = %s\n' "$id" "$secret" > "$CEPH_DIR/osd/ceph-$id/keyring"
ceph-osd -c "$CONF" -i "$id" --mkfs --key "$secret" --osd-uuid "$uuid" \
	> "$CEPH_DIR/log/mkfs-osd.$id.log" 2>&1 || fail "ceph-osd --mkfs failed"
ceph-osd -c "$CONF" -i "$id" 2>> "$CEPH_DIR/log/start-osd.$id.log" || fail "ceph-osd did not start"
log "mgr and osd.$id (memstore, $OSD_BYTES) started"

# ---------------------------------------------------------------- wait for the OSD
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
	up=$($CEPH osd stat -f json 2>/dev/null | python3 -c 'import json,sys
try: s=json.load(sys.stdin); print(s.get("num_up_osds", s.get("osdmap", {}).get("num_up_osds", 0)))
except Exception: print(0)' || echo 0)
	[ "$up" = 1 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "the OSD is not up after ${TIMEOUT}s"
	sleep 0.3
done
log "osd up"

# ---------------------------------------------------------------- radosgw
$CEPH auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
	-o "$CEPH_DIR/rgw.keyring" >/dev/null 2>&1 || fail "radosgw key creation failed"
radosgw -c "$CONF" -n client.rgw.gw 2>> "$CEPH_DIR/log/start-rgw.log" || fail "radosgw did not start"
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -s -o /dev/null --max-time 2 "http://$IP:$RGW_PORT/"; do
	[ -f "$CEPH_DIR/run/ceph-client.rgw.gw.pid" ] && ! cluster_alive "$CEPH_DIR/run/ceph-client.rgw.gw.pid" &&
		fail "radosgw exited"
	why=$(grep -m1 -E 'failed to bind|ERROR: failed initializing' "$CEPH_DIR/log/ceph-client.rgw.gw.log" 2>/dev/null || true)
	[ -z "$why" ] || fail "radosgw cannot serve on $IP:$RGW_PORT: ${why#* -1 }"
	[ "$(date +%s)" -lt "$deadline" ] || fail "radosgw does not answer on $IP:$RGW_PORT after ${TIMEOUT}s"
	sleep 0.3
done
log "radosgw answers on http://$IP:$RGW_PORT"

# ---------------------------------------------------------------- user and bucket
AK=$(python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(20)))')
SK=$(python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(40)))')
timeout 60 radosgw-admin -c "$CONF" user create --uid=shardctl --display-name="shardctl tests" \
	--access-key="$AK" --secret-key="$SK" > "$CEPH_DIR/log/user-create.log" 2>&1 ||
	fail "radosgw-admin user create failed: $(tail -n 3 "$CEPH_DIR/log/user-create.log")"
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
	code=$(curl -s -o "$CEPH_DIR/log/bucket-create.out" -w '%{http_code}' --max-time 20 -X PUT \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://$IP:$RGW_PORT/$BUCKET" || true)
	[ "$code" = 200 ] && break
	# the new user's key can take a moment to reach the gateway
	[ "$(date +%s)" -lt "$deadline" ] ||
		fail "creating bucket '$BUCKET' answered HTTP $code: $(head -c 300 "$CEPH_DIR/log/bucket-create.out")"
	sleep 0.5
done
log "user 'shardctl' and bucket '$BUCKET' created"

cat > "$CEPH_DIR/s3.env" <<EOF
# written by tools/ceph-up.sh: the S3 gateway of the cluster in $CEPH_DIR
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://$IP:$RGW_PORT
export SC_S3_BUCKET=$BUCKET
export SC_CEPH_DIR=$CEPH_DIR
export SC_CEPH_RGW_PIDFILE=$CEPH_DIR/run/ceph-client.rgw.gw.pid
EOF
log "ready: . $CEPH_DIR/s3.env"
