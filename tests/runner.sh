# tests/runner.sh - the loop every test suite's run.sh shares (sourced by
# tests/cli/run.sh, tests/ceph/run.sh, tests/slurm/run.sh), and the
# cluster start of the Ceph and Slurm suites.
#
# run_tests SUITE TAIL KEEP_LOG TEST...: runs each test script with bash
# in its own temporary directory; exit 0 passes, 77 skips (its last line
# says why), anything else fails and shows the last TAIL lines of its
# output (kept in DIR.log when KEEP_LOG is 1). A suite may define
# after_test NAME, run after each test, which returns non-zero to count a
# failure. Sets pass, fail, skip and prints "SUITE: N passed, ...".
run_tests() {
	suite=$1 tail_lines=$2 keep_log=$3
	shift 3
	pass=0 fail=0 skip=0
	for t in "$@"; do
		name=$(basename "$t" .sh)
		dir=$(mktemp -d "${TMPDIR:-/tmp}/shardctl-$suite-$name.XXXXXX")
		tstart=$(date +%s)
		(cd "$dir" && bash "$t") > "$dir.log" 2>&1
		rc=$?
		secs=$(( $(date +%s) - tstart ))
		if [ $rc -eq 0 ]; then
			pass=$((pass + 1)); echo "ok    $name (${secs}s)"
			rm -rf "$dir" "$dir.log"
		elif [ $rc -eq 77 ]; then
			skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$dir.log")"
			rm -rf "$dir" "$dir.log"
		else
			fail=$((fail + 1)); echo "FAIL  $name (exit $rc), log:"
			sed 's/^/    /' "$dir.log" | tail -n "$tail_lines"
			rm -rf "$dir"
			[ "$keep_log" = 1 ] || rm -f "$dir.log"
		fi
		if command -v after_test > /dev/null 2>&1 && ! after_test "$name"; then
			fail=$((fail + 1))
		fi
	done
	echo "$suite: $pass passed, $fail failed, $skip skipped"
}

# the scripts named on the command line (NAME -> DIR/NAME.sh), else $2
test_list() { # DIR DEFAULT_LIST [NAME...]
	d=$1 def=$2
	shift 2
	if [ $# -gt 0 ]; then
		for t in "$@"; do printf '%s\n' "$d/$t.sh"; done
	else
		printf '%s\n' $def
	fi
}

# cluster_up SUITE WHAT TOOL TAG: start a throw-away cluster with
# tools/TOOL-up.sh in a new directory /tmp/TAG.XXXXXX (CLUSTER_DIR; its
# output in CLUSTER_UPLOG), stopped with tools/TOOL-down.sh when the shell
# exits. If it cannot start, print the end of its output and the reason and
# exit 1: the suite fails, it never passes without having run. Sets
# CLUSTER_SECS, the seconds it took. REPO_DIR must be set.
cluster_up() {
	cu_suite=$1 cu_what=$2 cu_tool=$3
	CLUSTER_DIR=$(mktemp -d "/tmp/$4.XXXXXX") || { echo "$cu_suite: FAILED: mktemp"; exit 1; }
	CLUSTER_UPLOG=$CLUSTER_DIR.up.log
	trap cluster_down EXIT
	trap 'exit 130' INT TERM
	cu_start=$(date +%s)
	if ! "$REPO_DIR/tools/$cu_tool-up.sh" "$CLUSTER_DIR" > "$CLUSTER_UPLOG" 2>&1; then
		sed 's/^/    /' "$CLUSTER_UPLOG" | tail -n 60
		echo "$cu_suite: FAILED: the $cu_what cluster did not start (the reason is above)"
		echo "$cu_suite: 0 passed, 1 failed"
		exit 1
	fi
	CLUSTER_SECS=$(( $(date +%s) - cu_start ))
}

cluster_down() {
	"$REPO_DIR/tools/$cu_tool-down.sh" "$CLUSTER_DIR" > "$CLUSTER_DIR.down.log" 2>&1 ||
		{ echo "$cu_suite: stopping the cluster failed:"; cat "$CLUSTER_DIR.down.log"; }
	rm -f "$CLUSTER_UPLOG" "$CLUSTER_DIR.down.log"
}
