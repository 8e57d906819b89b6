#!/bin/sh
# Partitioned-ingest tests against a real Slurm cluster (`make test-slurm`):
# start slurmctld and several slurmd nodes on 127.0.0.1 (tools/slurm-up.sh,
# which installs Slurm's and munge's Debian packages when missing), run
# every tests/slurm/t_*.sh, and stop the cluster whatever happens
# (tools/slurm-down.sh, by recorded PIDs).
#
# Each test runs in its own temporary directory with SLURM_CONF set (so
# sbatch, squeue and scancel talk to this cluster) and SHARDCTL, REPO_DIR,
# TESTS_DIR (tests/cli, whose helpers the tests use) and SLURM_TESTS_DIR
# set. Exit 0 passes, 77 skips (say why), anything else fails. If the
# cluster cannot start, the suite fails with the reason: it never passes
# without having run.
#
# usage: SHARDCTL=/abs/shardctl sh tests/slurm/run.sh [t_name ...]
here=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(cd "$here/../.." && pwd)
: "${SHARDCTL:?set SHARDCTL to the shardctl binary}"
export SHARDCTL REPO_DIR TESTS_DIR="$REPO_DIR/tests/cli" SLURM_TESTS_DIR="$here"

. "$here/../runner.sh"
cluster_up slurm Slurm slurm scs
# shellcheck disable=SC1091
. "$CLUSTER_DIR/env.sh"
echo "slurm: cluster up in ${CLUSTER_SECS}s: $(sinfo -h -N -o %N | sort -u | tr '\n' ' ')"

# no job of a test may outlive it
after_test() {
	left=$(squeue -h -o %A 2>/dev/null | sort -u)
	[ -z "$left" ] && return 0
	echo "slurm: $1 left jobs behind: $left"
	# shellcheck disable=SC2086
	scancel $left 2>/dev/null
	return 1
}
# shellcheck disable=SC2046
run_tests slurm 60 0 $(test_list "$here" "$(ls "$here"/t_*.sh 2>/dev/null)" "$@")
[ $fail -eq 0 ] && [ $pass -gt 0 ]
