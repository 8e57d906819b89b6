# tests/runner.sh - the loop every test suite's run.sh shares (sourced by
# tests/cli/run.sh, tests/ceph/run.sh, tests/slurm/run.sh).
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
