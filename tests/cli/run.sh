#!/bin/sh
# CLI tests: run every tests/cli/t_*.sh against the real binary ($SHARDCTL)
# in its own temporary directory. A test passes with exit 0, is skipped
# with exit 77 (it must say why), and fails otherwise.
# Usage: SHARDCTL=/abs/path/shardctl sh tests/cli/run.sh [t_name ...]
here=$(cd "$(dirname "$0")" && pwd)
: "${SHARDCTL:?set SHARDCTL to the shardctl binary}"
export SHARDCTL
export TESTS_DIR="$here"
export REPO_DIR="$(cd "$here/../.." && pwd)"
. "$here/../runner.sh"
# shellcheck disable=SC2046
run_tests cli 40 1 $(test_list "$here" "$(ls "$here"/t_*.sh)" "$@")
[ $fail -eq 0 ]
