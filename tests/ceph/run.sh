#!/bin/sh
# S3 tests against a real Ceph cluster (`make test-ceph`): start a
# single-host cluster with radosgw on 127.0.0.1 (tools/ceph-up.sh, which
# installs Ceph's Debian packages when missing), run every
# tests/ceph/t_*.sh, then every tests/ceph/z_*.sh (tests that break the
# cluster, e.g. stop the gateway, so they come last), and stop the cluster
# whatever happens (tools/ceph-down.sh, by recorded PIDs).
#
# Each test runs in its own temporary directory with the gateway's
# s3.env sourced (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# AWS_ENDPOINT_URL, SC_S3_BUCKET, SC_CEPH_DIR, SC_CEPH_RGW_PIDFILE) and
# CEPH_BIN_DIR (the C programs of tests/ceph/), SHARDCTL, REPO_DIR,
# TESTS_DIR set. Exit 0 passes, 77 skips (say why), anything else fails.
# If the cluster cannot start, the suite fails with the reason.
#
# usage: CEPH_BIN_DIR=/abs/build/ceph [SHARDCTL=/abs/shardctl] sh tests/ceph/run.sh [t_name ...]
here=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(cd "$here/../.." && pwd)
: "${CEPH_BIN_DIR:?set CEPH_BIN_DIR to the directory of the tests/ceph programs}"
export CEPH_BIN_DIR REPO_DIR TESTS_DIR="$here" SHARDCTL="${SHARDCTL:-}"

. "$here/../runner.sh"
cluster_up ceph Ceph ceph scc
echo "ceph: cluster up in ${CLUSTER_SECS}s: $(grep -o 'radosgw answers on .*' "$CLUSTER_UPLOG")"
# shellcheck disable=SC1091
. "$CLUSTER_DIR/s3.env"

# shellcheck disable=SC2046
run_tests ceph 60 0 $(test_list "$here" "$(ls "$here"/t_*.sh 2>/dev/null) $(ls "$here"/z_*.sh 2>/dev/null)" "$@")
[ $fail -eq 0 ] && [ $pass -gt 0 ]
